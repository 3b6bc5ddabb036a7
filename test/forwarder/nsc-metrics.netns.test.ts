import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { scrape, tryScrape, value } from '../fixtures/metrics.ts';
import { addNetns, ip, runNsm, spawnNsm, stopNsm, tempDir, uniquePrefix, waitFor, whyNoKernelTests, type NsmProcess } from '../fixtures/netns.ts';

const skip = whyNoKernelTests();
const FORWARDER_PORT = 9191;
const CLIENT_PORT = 9193;
const ENDPOINT_PORT = 9192;

/**
 * nsm nsc run's metrics over HTTP while its connection is made, healed (its endpoint's pod deleted,
 * a second endpoint taking over), lost (no endpoint left), made again and closed; the forwarder's
 * and the endpoint's figures beside them.
 */
t.test('nsc run serves metrics that follow its connection', { skip, timeout: 120_000 }, async (t) => {
  const p = uniquePrefix('nm');
  const dir = tempDir(t, p);
  const [node, c1] = ['node', 'c1'].map((n) => addNetns(t, `${p}-${n}`));
  for (const ns of [node, c1]) ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  const sock = join(dir, 'nsm.sock');
  const registry = join(dir, 'registry');
  spawnNsm(t, node, ['forwarder'], { NSM_NAME: `${p}-fwd`, NSM_LISTEN_ON: `unix://${sock}`, NSM_PEER_LISTEN_ON: '', NSM_REGISTRY_DIR: registry, NSM_MEMIF_DIR: join(dir, 'memif'), NSM_METRICS_LISTEN_ON: `127.0.0.1:${FORWARDER_PORT}` });
  await waitFor('the forwarder socket', () => { try { return statSync(sock).isSocket(); } catch { return false; } }, 15_000);

  const endpoints = new Map<string, { ns: string; proc: NsmProcess }>();
  const startEndpoint = async (name: string) => {
    const ns = addNetns(t, `${p}-${name}`);
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    const proc = spawnNsm(t, ns, ['nse'], {
      NSM_NAME: name, NSM_SERVICE_NAMES: 'nm', NSM_CIDR_PREFIX: '10.243.0.0/29', NSM_CONNECT_TO: `unix://${sock}`,
      NSM_LISTEN_ON: `unix://${join(dir, `${name}.sock`)}`, NSM_METRICS_LISTEN_ON: `127.0.0.1:${ENDPOINT_PORT}`, NSM_LOG_LEVEL: 'info',
    });
    endpoints.set(name, { ns, proc });
    await waitFor(`endpoint ${name} registered`, () => proc.output().includes('endpoint registered'), 15_000);
  };
  /** Deletes an endpoint's pod as Kubernetes does: the process killed, then its namespace removed. */
  const deletePod = async (name: string) => {
    const e = endpoints.get(name)!;
    e.proc.child.kill('SIGKILL');
    await e.proc.exited;
    ip(['netns', 'del', e.ns]);
  };
  const endpointOf = () => (JSON.parse(readFileSync(join(dir, 'c1', 'nsm-1.json'), 'utf8')) as { networkServiceEndpointName: string }).networkServiceEndpointName;

  await startEndpoint('ep-a');
  const env = { NSM_NAME: 'c1', NSM_NETWORK_SERVICES: 'kernel://nm/nsm-1', NSM_CONNECT_TO: `unix://${sock}`, NSM_CONNECTIONS_DIR: join(dir, 'c1'), NSM_INIT_TIMEOUT: '15s' };
  const init = await runNsm(t, c1, ['nsc', 'init'], env);
  t.equal(init.code, 0, init.output);
  await startEndpoint('ep-b');
  const run = spawnNsm(t, c1, ['nsc', 'run'], { ...env, NSM_METRICS_LISTEN_ON: `127.0.0.1:${CLIENT_PORT}`, NSM_LOG_LEVEL: 'info' });

  const up = 'nsm_nsc_connections_up{service="nm"}';
  const CAUSES = ['endpoint-closed', 'endpoint-not-found', 'refresh-refused', 'path-down', 'not-adopted', 'monitor-lost'];
  const healsIn = (text: string) => Object.fromEntries(CAUSES.map((c) => [c, value(text, `nsm_nsc_heals_total{service="nm",cause="${c}"}`)]));
  const allHeals = (text: string) => Object.values(healsIn(text)).reduce((a, b) => (a ?? 0) + (b ?? 0), 0);
  const lastFailure = (text: string) => value(text, 'nsm_nsc_last_failure_timestamp_seconds{service="nm"}');

  const connected = await waitFor('nsc run serving metrics', () => tryScrape(c1, CLIENT_PORT), 15_000);
  t.equal(value(connected, up), 1, 'the connection nsc init made is up');
  t.same(healsIn(connected), Object.fromEntries(CAUSES.map((c) => [c, 0])), 'no heal yet, every cause exported');
  t.equal(lastFailure(connected), undefined, 'no failure yet');

  // The forwarder sees the endpoint's pod go either as its interface gone (the connection DOWN:
  // the client refreshes, is answered NOT_FOUND, and reselects) or as its process gone (the
  // connection closed: the client reselects). Either way it is one heal.
  const beforeKill = Date.now() / 1000;
  await deletePod('ep-a');
  await waitFor('c1 on ep-b', () => endpointOf() === 'ep-b', 20_000);
  const healed = scrape(c1, CLIENT_PORT);
  t.equal(value(healed, up), 1, 'up again, on the other endpoint');
  t.equal(allHeals(healed), 1, `one heal: ${JSON.stringify(healsIn(healed))}`);
  t.ok(healsIn(healed)['endpoint-closed'] === 1 || healsIn(healed)['path-down'] === 1, 'started by the forwarder closing the connection or reporting it down');
  const failedAt = lastFailure(healed)!;
  t.ok(failedAt >= beforeKill && failedAt <= Date.now() / 1000, 'the failure is dated between the kill and now');
  const fwdHeals = scrape(node, FORWARDER_PORT);
  t.ok((value(fwdHeals, 'nsm_forwarder_heals_total{cause="endpoint-gone"}') ?? 0) + (value(fwdHeals, 'nsm_forwarder_heals_total{cause="path-impaired"}') ?? 0) >= 1, 'the forwarder counted its side of the heal');

  await deletePod('ep-b');
  await waitFor('the connection down while no endpoint serves the service', () => value(scrape(c1, CLIENT_PORT), up) === 0, 20_000);
  await waitFor('the log saying no endpoint can be reached', () => run.output().includes('no endpoint of the network service can be reached'), 20_000);
  const lost = scrape(c1, CLIENT_PORT);
  t.equal(allHeals(lost), 2, `a second heal: ${JSON.stringify(healsIn(lost))}`);
  t.ok(lastFailure(lost)! > failedAt, 'a later failure');
  const failingAt = lastFailure(lost)!;
  await waitFor('another failed request', () => lastFailure(scrape(c1, CLIENT_PORT))! > failingAt, 15_000);
  t.equal(allHeals(scrape(c1, CLIENT_PORT)), 2, 'failed requests move the last failure on, and are steps of the same heal');

  await startEndpoint('ep-c');
  await waitFor('c1 on ep-c', () => endpointOf() === 'ep-c' && value(scrape(c1, CLIENT_PORT), up) === 1, 20_000);
  t.equal(allHeals(scrape(c1, CLIENT_PORT)), 2, 'reconnecting is no heal of its own');
  t.equal(value(scrape(endpoints.get('ep-c')!.ns, ENDPOINT_PORT), 'nsm_nse_connections'), 1, 'ep-c holds the connection');

  t.equal(await stopNsm(run), 0, 'nsc run closes on SIGTERM');
  t.equal(tryScrape(c1, CLIENT_PORT), undefined, 'and stops serving metrics');
  const fwd = scrape(node, FORWARDER_PORT);
  t.notOk(value(fwd, 'nsm_forwarder_connections{mechanism="KERNEL",payload="ETHERNET"}'), 'the forwarder holds no connection');
  t.equal(value(fwd, 'nsm_forwarder_calls_total{call="close",code="OK"}'), 1, 'one Close answered OK');
  t.equal(value(scrape(endpoints.get('ep-c')!.ns, ENDPOINT_PORT), 'nsm_nse_connections'), 0, 'nor does the endpoint');
});
