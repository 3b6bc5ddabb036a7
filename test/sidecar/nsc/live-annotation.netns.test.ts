import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { CoreV1Api } from '@kubernetes/client-node';
import { writeAtomically } from '../../../sandbox/downward-volumes.ts';
import { formatDownwardMap } from '../../../sdk/k8s/downward-api.ts';
import { startFixtureApiServer } from '../../fixtures/kube-api-server.ts';
import { bridgeIntoNetns } from '../../fixtures/netns-bridge.ts';
import { pingFlow } from '../../fixtures/ping-flow.ts';
import { addNetns, addresses, ip, link, runNsm, spawnNsm, stopNsm, tempDir, uniquePrefix, waitFor, whyNoKernelTests } from '../../fixtures/netns.ts';

const skip = whyNoKernelTests();
const KEY = 'networkservicemesh.io';

/**
 * nsm nsc run follows the pod's annotation as the kubelet rewrites its downward API file: a URL
 * added, changed, refused (malformed: nothing changes, an Event on the pod), removed; an empty
 * value, then the annotation removed (back to what the pod was created with). A steady ping on
 * the connection the edits leave alone loses nothing.
 */
t.test('nsc run: the pod\'s connections follow its annotation', { skip, timeout: 180_000 }, async (t) => {
  const p = uniquePrefix('la');
  const dir = tempDir(t, p);
  const [node, c1, nse] = ['node', 'c1', 'nse'].map((n) => addNetns(t, `${p}-${n}`));
  for (const ns of [node, c1, nse]) ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  const sock = join(dir, 'nsm.sock');
  spawnNsm(t, node, ['forwarder'], { NSM_NAME: `${p}-fwd`, NSM_LISTEN_ON: `unix://${sock}`, NSM_PEER_LISTEN_ON: '', NSM_REGISTRY_DIR: join(dir, 'registry'), NSM_MEMIF_DIR: join(dir, 'memif') });
  await waitFor('the forwarder socket', () => { try { return statSync(sock).isSocket(); } catch { return false; } }, 15_000);
  const endpoint = spawnNsm(t, nse, ['nse'], { NSM_NAME: `${p}-ep`, NSM_SERVICE_NAMES: 'la,lb,lc', NSM_CIDR_PREFIX: '10.245.0.0/24', NSM_CONNECT_TO: `unix://${sock}`, NSM_LISTEN_ON: `unix://${join(dir, 'ep.sock')}`, NSM_LOG_LEVEL: 'info' });
  await waitFor('the endpoint registered', () => endpoint.output().includes('endpoint registered'), 15_000);

  const api = await startFixtureApiServer({ group: '', version: 'v1', plural: 'events', kind: 'Event', namespaced: true });
  t.teardown(() => api.close());
  const podinfo = join(dir, 'podinfo');
  const annotate = (annotations: Record<string, string>) => writeAtomically(podinfo, { annotations: formatDownwardMap({ 'networkservicemesh.io/status': '{"containers":["nsm-sidecar"]}', ...annotations }) });
  annotate({ [KEY]: 'kernel://la/nsm-1' });

  /** The API server as the pod reaches it. */
  const kubeconfigInPod = async () => {
    const url = await bridgeIntoNetns(t, c1, Number(new URL(api.url).port), dir);
    const path = api.writeKubeconfig(join(dir, 'kubeconfig'));
    const config = JSON.parse(readFileSync(path, 'utf8')) as { clusters: Array<{ cluster: Record<string, unknown> }> };
    // Plain HTTP: @kubernetes/client-node allows it only without TLS verification.
    config.clusters[0].cluster = { server: url, 'insecure-skip-tls-verify': true };
    writeFileSync(path, JSON.stringify(config));
    return path;
  };
  const conns = join(dir, 'c1');
  const env = { NSM_NAME: 'c1', NSM_NETWORK_SERVICES: 'kernel://la/nsm-1', NSM_CONNECT_TO: `unix://${sock}`, NSM_CONNECTIONS_DIR: conns, NSM_INIT_TIMEOUT: '15s' };
  const init = await runNsm(t, c1, ['nsc', 'init'], env);
  t.equal(init.code, 0, init.output);
  const run = spawnNsm(t, c1, ['nsc', 'run'], {
    ...env, NSM_POD_ANNOTATIONS: join(podinfo, 'annotations'), NSM_CLIENT_API: '', NSM_LOG_LEVEL: 'info',
    POD_NAMESPACE: 'default', KUBECONFIG: await kubeconfigInPod(),
  });
  await waitFor('nsc run adopting nsm-1', () => run.output().includes('adopting the connection nsc init made'), 15_000);

  const saved = (ifname: string) => {
    try {
      return JSON.parse(readFileSync(join(conns, `${ifname}.json`), 'utf8')) as { id: string; networkService: string; context: { ipContext: { dstIpAddrs: string[] } } };
    } catch {
      return undefined;
    }
  };
  const nsm1 = link(c1, 'nsm-1')!;
  const flow = pingFlow(t, c1, saved('nsm-1')!.context.ipContext.dstIpAddrs[0].split('/')[0]);
  await waitFor('the first ping reply on nsm-1', () => flow.replies.length > 0, 10_000);
  const editsFrom = Date.now();

  annotate({ [KEY]: 'kernel://la/nsm-1,kernel://lb/nsm-2' });
  await waitFor('nsm-2 up with an address', () => link(c1, 'nsm-2') && addresses(c1, 'nsm-2').length > 0, 15_000);
  t.match(saved('nsm-2'), { id: 'c1-nsm-2', networkService: 'lb' }, 'an added URL: its interface and connection file, its id from its interface name');
  const lb = link(c1, 'nsm-2')!.ifindex;

  annotate({ [KEY]: 'kernel://la/nsm-1,kernel://lc/nsm-2' });
  await waitFor('nsm-2 on lc', () => saved('nsm-2')?.networkService === 'lc' && link(c1, 'nsm-2') && link(c1, 'nsm-2')!.ifindex !== lb, 15_000);
  t.equal(saved('nsm-2')?.id, 'c1-nsm-2', 'a changed URL: closed and requested anew, with the same connection id');
  const lc = link(c1, 'nsm-2')!.ifindex;

  annotate({ [KEY]: 'kernel://la/nsm-1,kernel://lc/nsm-2,kernel://bad service/x' });
  await waitFor('the malformed value reported', () => /NetworkServicesNotChanged.*service name \\"bad service\\" may contain only/.test(run.output()), 10_000);
  const events = await waitFor('an Event on the pod', async () => {
    const list = await api.kubeConfig().makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: 'default' });
    return list.items.length > 0 ? list.items : undefined;
  }, 10_000);
  t.match(events[0], { type: 'Warning', reason: 'NetworkServicesNotChanged', involvedObject: { kind: 'Pod', name: 'c1', namespace: 'default' } });
  t.match(events[0].message, /annotation networkservicemesh\.io: network service URL "kernel:\/\/bad service\/x": service name "bad service" may contain only .*; the pod's connections are left as they are/);
  t.equal(link(c1, 'nsm-2')?.ifindex, lc, 'a malformed value changes nothing');

  annotate({ [KEY]: 'kernel://la/nsm-1' });
  await waitFor('nsm-2 gone', () => !link(c1, 'nsm-2') && !saved('nsm-2'), 15_000);
  t.pass('a removed URL: its interface and its connection file are gone');

  const editsTo = Date.now();
  await waitFor('a ping reply after the last edit', () => flow.firstReplyAfter(editsTo), 5000);
  await flow.stop();
  t.equal(link(c1, 'nsm-1')?.ifindex, nsm1.ifindex, 'nsm-1 was never replaced');
  t.equal(flow.lost(), 0, `no ping lost on nsm-1 over ${flow.replies.length} replies`);
  t.ok(flow.replies[0].at < editsFrom, `the ping ran from before the first edit to after the last (${flow.replies.length} replies over ${editsTo - editsFrom} ms of edits)`);

  annotate({ [KEY]: '' });
  await waitFor('nsm-1 gone', () => !link(c1, 'nsm-1'), 15_000);
  t.pass('an empty value: no connections');
  annotate({});
  await waitFor('nsm-1 back', () => link(c1, 'nsm-1') && addresses(c1, 'nsm-1').length > 0, 15_000);
  t.equal(saved('nsm-1')?.id, 'c1-0', 'the annotation removed: back to the services the pod was created with, under nsc init\'s id');

  t.equal(await stopNsm(run), 0, run.output());
  t.notOk(link(c1, 'nsm-1'), 'closed on shutdown');
});
