import { statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { scrape, value } from '../fixtures/metrics.ts';
import { addNetns, ip, runNsm, spawnNsm, stopNsm, tempDir, uniquePrefix, waitFor, whyNoKernelTests } from '../fixtures/netns.ts';

const skip = whyNoKernelTests();

t.test('the forwarder and the endpoint serve metrics that follow what happened', { skip, timeout: 90_000 }, async (t) => {
  const p = uniquePrefix('mx');
  const dir = tempDir(t, p);
  const [node, ep, c1] = ['node', 'ep', 'c1'].map((n) => addNetns(t, `${p}-${n}`));
  for (const ns of [node, ep, c1]) ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  const forwarder = `unix://${join(dir, 'nsm.sock')}`;
  spawnNsm(t, node, ['forwarder'], { NSM_NAME: `${p}-fwd`, NSM_LISTEN_ON: forwarder, NSM_PEER_LISTEN_ON: '', NSM_REGISTRY_DIR: join(dir, 'registry'), NSM_MEMIF_DIR: join(dir, 'memif'), NSM_METRICS_LISTEN_ON: '127.0.0.1:9191' });
  await waitFor('the forwarder socket', () => { try { return statSync(join(dir, 'nsm.sock')).isSocket(); } catch { return false; } });
  spawnNsm(t, ep, ['nse'], { NSM_NAME: 'mx-ep', NSM_SERVICE_NAMES: 'mx', NSM_CIDR_PREFIX: '10.238.0.0/29', NSM_CONNECT_TO: forwarder, NSM_LISTEN_ON: `unix://${join(dir, 'ep.sock')}`, NSM_METRICS_LISTEN_ON: '127.0.0.1:9192' });
  await waitFor('the endpoint registration', () => { try { return statSync(join(dir, 'registry/networkserviceendpoints/mx-ep.json')).isFile(); } catch { return false; } });
  const env = { NSM_NAME: 'c1', NSM_NETWORK_SERVICES: 'kernel://mx/nsm-1', NSM_CONNECT_TO: forwarder, NSM_CONNECTIONS_DIR: join(dir, 'c1'), NSM_INIT_TIMEOUT: '10s' };
  const init = await runNsm(t, c1, ['nsc', 'init'], env);
  t.equal(init.code, 0, init.output);

  const fwd = scrape(node, 9191);
  t.equal(value(fwd, 'nsm_forwarder_connections{mechanism="KERNEL",payload="ETHERNET"}'), 1, 'one KERNEL connection');
  t.equal(value(fwd, 'nsm_forwarder_calls_total{call="request",code="OK"}'), 1, 'one Request answered OK');
  t.equal(value(fwd, 'nsm_forwarder_setup_duration_milliseconds_count'), 1, 'and its setup time observed');
  t.ok((value(fwd, 'nsm_forwarder_kernel_call_duration_milliseconds_count{op="add-veth",result="ok"}') ?? 0) >= 1, 'the kernel call that made the pair is timed');
  t.equal(value(fwd, 'nsm_forwarder_registered_endpoints'), 1);
  const nse = scrape(ep, 9192);
  t.equal(value(nse, 'nsm_nse_connections'), 1);
  t.equal(value(nse, 'nsm_nse_addresses{state="used"}'), 2, 'a pair of addresses in use');
  t.equal(value(nse, 'nsm_nse_address_pool_size'), 6, 'a /29 hands out six');

  const run = spawnNsm(t, c1, ['nsc', 'run'], env);
  // Its adoption of the connection is a refresh: by then it handles SIGTERM.
  await waitFor('nsc run adopting the connection', () => (value(scrape(node, 9191), 'nsm_forwarder_calls_total{call="refresh",code="OK"}') ?? 0) >= 1, 15_000);
  t.equal(await stopNsm(run), 0, 'nsc run closes on SIGTERM');
  const after = scrape(node, 9191);
  t.notOk(value(after, 'nsm_forwarder_connections{mechanism="KERNEL",payload="ETHERNET"}'), 'no connection left');
  t.equal(value(after, 'nsm_forwarder_calls_total{call="close",code="OK"}'), 1, 'one Close answered OK');
  t.ok((value(after, 'nsm_forwarder_calls_total{call="refresh",code="OK"}') ?? 0) >= 1, 'nsc run refreshed before it closed');
  const nseAfter = scrape(ep, 9192);
  t.equal(value(nseAfter, 'nsm_nse_connections'), 0);
  t.equal(value(nseAfter, 'nsm_nse_addresses{state="used"}'), 0, 'the addresses are free again');
});
