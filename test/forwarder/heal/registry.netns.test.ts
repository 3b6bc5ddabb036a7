import { spawn } from 'node:child_process';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { addNetns, ip, link, ping, ROOT, runNsm, spawnNsm, stopNsm, tempDir, uniquePrefix, waitFor, whyNoKernelTests } from '../../fixtures/netns.ts';

const skip = whyNoKernelTests();

/**
 * The registry unreachable (the Kubernetes API server down): existing connections keep working
 * and being refreshed, also past their registrations' lifetime; new requests fail with a message
 * naming the registry. The API server is the fixture server, run as a process in the node's
 * namespace so that the forwarder reaches it on its loopback.
 */
t.test('registry unreachable', { skip, timeout: 120_000 }, async (t) => {
  const p = uniquePrefix('hr');
  const dir = tempDir(t, p);
  const [node, ep, c1, c2] = ['node', 'ep', 'c1', 'c2'].map((n) => addNetns(t, `${p}-${n}`));
  for (const ns of [node, ep, c1, c2]) ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  const api = spawn('ip', ['netns', 'exec', node, process.execPath, join(ROOT, 'test/fixtures/nsm-api-process.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const apiExited = new Promise((r) => api.on('exit', r));
  t.teardown(async () => {
    if (api.exitCode === null && api.signalCode === null) api.kill('SIGKILL');
    await apiExited;
  });
  let out = '';
  api.stdout.on('data', (b: Buffer) => (out += b.toString()));
  const kubeconfig = join(dir, 'kubeconfig');
  await waitFor('the API server', () => out.includes('\n'), 15_000);
  writeFileSync(kubeconfig, JSON.parse(out.split('\n')[0]) as string);
  const server = (JSON.parse(readFileSync(kubeconfig, 'utf8')) as { clusters: Array<{ cluster: { server: string } }> }).clusters[0].cluster.server;

  const sock = join(dir, 'nsm.sock');
  rmSync(sock, { force: true });
  const forwarder = spawnNsm(t, node, ['forwarder'], {
    NSM_NAME: `${p}-fwd`, NSM_LISTEN_ON: `unix://${sock}`, NSM_PEER_LISTEN_ON: '', KUBECONFIG: kubeconfig, NSM_NAMESPACE: 'nsm-system',
    NSM_MAX_TOKEN_LIFETIME: '3s', NSM_EXPIRE_PERIOD: '2s',
  });
  await waitFor('the forwarder socket', () => { try { return statSync(sock).isSocket(); } catch { return false; } }, 15_000);
  const endpoint = spawnNsm(t, ep, ['nse'], {
    NSM_NAME: 'ep', NSM_SERVICE_NAMES: 'reg', NSM_CIDR_PREFIX: '10.243.0.0/29', NSM_CONNECT_TO: `unix://${sock}`,
    NSM_LISTEN_ON: `unix://${join(dir, 'ep.sock')}`, NSM_MAX_TOKEN_LIFETIME: '3s', NSM_LOG_LEVEL: 'info',
  });
  await waitFor('the endpoint registered', () => endpoint.output().includes('endpoint registered'), 15_000);
  const env = (name: string) => ({ NSM_NAME: name, NSM_NETWORK_SERVICES: 'kernel://reg/nsm-1', NSM_CONNECT_TO: `unix://${sock}`, NSM_CONNECTIONS_DIR: join(dir, name), NSM_INIT_TIMEOUT: '10s' });
  const init = await runNsm(t, c1, ['nsc', 'init'], env('c1'));
  t.equal(init.code, 0, `c1 connects through the Kubernetes registry: ${init.output}`);
  const saved = () => JSON.parse(readFileSync(join(dir, 'c1', 'nsm-1.json'), 'utf8')) as { context: { ipContext: { dstIpAddrs: string[] } }; path: { pathSegments: Array<{ expires?: string }> } };
  const peer = saved().context.ipContext.dstIpAddrs[0].split('/')[0];
  const run = spawnNsm(t, c1, ['nsc', 'run'], env('c1'));
  const ifindex = link(c1, 'nsm-1')!.ifindex;

  api.kill('SIGKILL');
  await apiExited;
  const down = Date.now();
  // Past a connection lifetime (3 s) and an endpoint registration lifetime (2 s).
  await new Promise((r) => setTimeout(r, 5000));
  t.equal(link(c1, 'nsm-1')?.ifindex, ifindex, 'the connection is still there, the same interface');
  t.ok(ping(c1, peer), 'and works');
  const expires = Math.min(...saved().path.pathSegments.filter((s) => s.expires).map((s) => Date.parse(s.expires!)));
  t.ok(expires > down + 3000, 'it was refreshed while the API server was down (its path expires after the outage began plus a lifetime)');

  const fresh = await runNsm(t, c2, ['nsc', 'init'], { ...env('c2'), NSM_INIT_TIMEOUT: '2s' });
  t.equal(fresh.code, 1, 'a new request fails');
  t.match(fresh.output, new RegExp(`kernel://reg/nsm-1: .*the registry \\(Kubernetes API ${server.replaceAll('.', '\\.')}\\) cannot be reached`), 'naming the registry');
  t.equal(link(c2, 'nsm-1'), undefined, 'and leaves nothing behind');

  t.equal(await stopNsm(run), 0, 'nsc run exits 0');
  t.equal(link(c1, 'nsm-1'), undefined, 'its Close still works');
  t.equal(forwarder.child.exitCode, null, 'the forwarder kept running');
});
