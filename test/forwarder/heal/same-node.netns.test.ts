import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { addNetns, addresses, ip, link, links, ping, runNsm, spawnNsm, stopNsm, tempDir, uniquePrefix, waitFor, whyNoKernelTests, type NsmProcess } from '../../fixtures/netns.ts';
import { pingFlow } from '../../fixtures/ping-flow.ts';

const skip = whyNoKernelTests();

/**
 * The same-node rows of the healing table, one after the other on one node: a forwarder restart,
 * an endpoint pod deleted while another endpoint serves the service, an endpoint process that
 * crashes and restarts in its pod, a data path removed under live pods, and no endpoint left.
 * Connections live the default 10 minutes (a refresh every ~3 minutes), so everything that
 * heals within the waits here was healed by an event, not by a refresh.
 */
t.test('healing on one node', { skip, timeout: 180_000 }, async (t) => {
  const p = uniquePrefix('hs');
  const dir = tempDir(t, p);
  const [node, c1, c2] = ['node', 'c1', 'c2'].map((n) => addNetns(t, `${p}-${n}`));
  for (const ns of [c1, c2]) ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  const sock = join(dir, 'nsm.sock');
  const registry = join(dir, 'registry');
  let forwarder: NsmProcess;
  const startForwarder = async () => {
    rmSync(sock, { force: true });
    forwarder = spawnNsm(t, node, ['forwarder'], { NSM_NAME: `${p}-fwd`, NSM_LISTEN_ON: `unix://${sock}`, NSM_PEER_LISTEN_ON: '', NSM_REGISTRY_DIR: registry, NSM_LOG_LEVEL: 'info' });
    await waitFor('the forwarder socket', () => { try { return statSync(sock).isSocket(); } catch { return false; } }, 15_000);
  };
  await startForwarder();

  const registered = (name: string) => { try { return statSync(join(registry, 'networkserviceendpoints', `${name}.json`)).isFile(); } catch { return false; } };
  const endpoints = new Map<string, { ns: string; proc: NsmProcess }>();
  const startEndpoint = async (name: string, ns = addNetns(t, `${p}-${name}`)) => {
    const proc = spawnNsm(t, ns, ['nse'], {
      NSM_NAME: name, NSM_SERVICE_NAMES: 'heal', NSM_CIDR_PREFIX: '10.241.0.0/29', NSM_CONNECT_TO: `unix://${sock}`,
      NSM_LISTEN_ON: `unix://${join(dir, `${name}.sock`)}`, NSM_LOG_LEVEL: 'info',
    });
    endpoints.set(name, { ns, proc });
    await waitFor(`endpoint ${name} registered`, () => registered(name) && proc.output().includes('endpoint registered'), 15_000);
    return proc;
  };
  /**
   * Deletes an endpoint's pod as Kubernetes does: its process is killed, then its network
   * namespace removed. Returns when the old data path is gone (a reply after it came another way).
   */
  const deletePod = async (name: string) => {
    const e = endpoints.get(name)!;
    e.proc.child.kill('SIGKILL');
    await e.proc.exited;
    ip(['netns', 'del', e.ns]);
    return Date.now();
  };

  const clientEnv = (name: string) => ({ NSM_NAME: name, NSM_NETWORK_SERVICES: 'kernel://heal/nsm-1', NSM_CONNECT_TO: `unix://${sock}`, NSM_CONNECTIONS_DIR: join(dir, name), NSM_INIT_TIMEOUT: '15s' });
  type Saved = { id: string; networkServiceEndpointName: string; context: { ipContext: { srcIpAddrs: string[]; dstIpAddrs: string[] } } };
  const conn = (client = 'c1') => JSON.parse(readFileSync(join(dir, client, 'nsm-1.json'), 'utf8')) as Saved;
  const peer = (client = 'c1') => conn(client).context.ipContext.dstIpAddrs[0].split('/')[0];
  const nsmLinks = (ns: string) => links(ns).filter((l) => l.ifalias?.startsWith('nsm:'));

  await startEndpoint('ep-a');
  const init = await runNsm(t, c1, ['nsc', 'init'], clientEnv('c1'));
  t.equal(init.code, 0, `c1 connects: ${init.output}`);
  t.equal(conn().networkServiceEndpointName, 'ep-a');
  await startEndpoint('ep-b');
  const run = spawnNsm(t, c1, ['nsc', 'run'], { ...clientEnv('c1'), NSM_LOG_LEVEL: 'info' });
  t.ok(ping(c1, peer()), 'c1 pings its endpoint');

  await t.test('forwarder restart: no packet lost, the connection adopted', async (t) => {
    const before = link(c1, 'nsm-1')!.ifindex;
    const flow = pingFlow(t, c1, peer());
    await waitFor('pings', () => flow.replies.length > 20);
    t.equal(await stopNsm(forwarder), 0, 'the forwarder stops');
    await startForwarder();
    await waitFor('the restarted forwarder adopting the connection', () => forwarder.output().includes('adopted the interfaces of a previous forwarder'), 15_000);
    const adoptedAt = flow.replies.length;
    await waitFor('pings after the adoption', () => flow.replies.length > adoptedAt + 20);
    await flow.stop();
    t.equal(flow.lost(), 0, `no packet lost (${flow.replies.length} replies every 10 ms)`);
    t.equal(link(c1, 'nsm-1')?.ifindex, before, 'the same interface');
  });

  await t.test('endpoint pod deleted: connected to the other endpoint, same id and interface name', async (t) => {
    const flow = pingFlow(t, c1, peer());
    await waitFor('pings', () => flow.replies.length > 10);
    const killed = Date.now();
    const pathGone = await deletePod('ep-a');
    await waitFor('c1 on ep-b', () => conn().networkServiceEndpointName === 'ep-b', 20_000);
    const first = await waitFor('a ping through ep-b', () => flow.firstReplyAfter(pathGone), 20_000);
    await flow.stop();
    t.comment(`first reply through ep-b ${(first.at - killed).toFixed(0)} ms after the endpoint pod was deleted`);
    t.equal(conn().id, 'c1-0', 'the connection keeps its id');
    t.ok(link(c1, 'nsm-1'), 'and its interface name');
    t.ok(ping(c1, peer()), 'pings ep-b');
    t.match(run.output(), /the forwarder closed the connection \(its endpoint is gone\)|healed: connected again/, 'the client says it healed');
  });

  await t.test('endpoint process crash and restart: interfaces and addresses kept, no reselect', async (t) => {
    const before = { ifindex: link(c1, 'nsm-1')!.ifindex, addresses: addresses(c1, 'nsm-1') };
    const flow = pingFlow(t, c1, peer());
    await waitFor('pings', () => flow.replies.length > 10);
    const e = endpoints.get('ep-b')!;
    e.proc.child.kill('SIGKILL');
    await e.proc.exited;
    const restarted = await startEndpoint('ep-b', e.ns);
    t.match(restarted.output(), /found the addresses of connections made before this endpoint started/, 'the restarted endpoint finds the addresses still in use');
    const second = await runNsm(t, c2, ['nsc', 'init'], clientEnv('c2'));
    t.equal(second.code, 0, `a new client connects to the restarted endpoint: ${second.output}`);
    t.notSame(addresses(c2, 'nsm-1'), before.addresses, 'and gets other addresses than the connection made before the crash');
    const refreshed = Date.now();
    await waitFor('pings after the restart', () => flow.replies.filter((r) => r.at > refreshed).length > 20);
    await flow.stop();
    t.equal(flow.lost(), 0, 'no packet lost');
    t.equal(link(c1, 'nsm-1')?.ifindex, before.ifindex, 'the same interface');
    t.same(addresses(c1, 'nsm-1'), before.addresses, 'the same addresses');
    t.equal(conn().networkServiceEndpointName, 'ep-b', 'no reselect');
  });

  await t.test('data path removed under live pods: the interface comes back with its name and addresses', async (t) => {
    const before = addresses(c1, 'nsm-1');
    ip(['-n', c1, 'link', 'del', 'nsm-1']);
    await waitFor('nsm-1 back in c1', () => link(c1, 'nsm-1') !== undefined && addresses(c1, 'nsm-1').length > 0, 20_000);
    t.same(addresses(c1, 'nsm-1'), before, 'with the same addresses');
    t.equal(conn().networkServiceEndpointName, 'ep-b', 'to the same endpoint');
    t.ok(await waitFor('a ping', () => ping(c1, peer()), 5000), 'pings again');
  });

  await t.test('no endpoint left: keeps trying, says so in its log, connects as soon as one registers', async (t) => {
    await deletePod('ep-b');
    await waitFor('the log saying no endpoint can be reached', () => run.output().includes('no endpoint of the network service can be reached'), 20_000);
    t.notOk(link(c1, 'nsm-1'), 'the interface went with the endpoint');
    await new Promise((r) => setTimeout(r, 1500));
    await startEndpoint('ep-c');
    await waitFor('c1 on ep-c', () => conn().networkServiceEndpointName === 'ep-c', 20_000);
    t.ok(await waitFor('a ping through ep-c', () => ping(c1, peer()), 5000), 'pings ep-c');
    t.equal(link(c1, 'nsm-1') !== undefined, true, 'with its interface back');
  });

  t.equal(await stopNsm(run), 0, 'nsc run exits 0');
  t.same(nsmLinks(c1), [], 'its interface is removed on exit');
  t.equal(forwarder!.child.exitCode, null, 'the forwarder kept running throughout');
});
