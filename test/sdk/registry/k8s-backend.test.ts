import t from 'tap';
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import type { NetworkServiceEndpoint, RegistryNetworkService } from '../../../proto/api.ts';
import { openKubernetesRegistry, NSM_GROUP } from '../../../sdk/registry/k8s-backend.ts';
import { endpointFromSpec, endpointToSpec, serviceFromSpec, serviceToSpec } from '../../../sdk/registry/k8s-spec.ts';
import type { Change } from '../../../sdk/registry/types.ts';
import { silentLogger } from '../../../sdk/log.ts';
import { FixtureApiServer } from '../../fixtures/kube-api-server.ts';

/** Deep equality that ignores prototypes (generated objects may have none). */
const same = (a: unknown, b: unknown) => isDeepStrictEqual(structuredClone(a), structuredClone(b));

const NSES = { group: NSM_GROUP, version: 'v1', plural: 'networkserviceendpoints', kind: 'NetworkServiceEndpoint', namespaced: true };
const NSS = { group: NSM_GROUP, version: 'v1', plural: 'networkservices', kind: 'NetworkService', namespaced: true };

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const nse = (name: string, extra: Partial<NetworkServiceEndpoint> = {}): NetworkServiceEndpoint => ({
  name, networkServiceNames: ['kernel2kernel'], networkServiceLabels: { kernel2kernel: { labels: { app: 'icmp' } } },
  url: 'tcp://10.0.0.7:5001', expirationTime: new Date(1893456000250), initialRegistrationTime: new Date(1700000000000), pathIds: [], ...extra,
});

async function setup(t: { teardown(fn: () => unknown): void }) {
  const api = await new FixtureApiServer().define(NSES).define(NSS).start();
  const registry = await openKubernetesRegistry({ kubeConfig: api.kubeConfig(), namespace: 'nsm-system', log: silentLogger() });
  t.teardown(async () => {
    await registry.close();
    await api.close();
  });
  return { api, registry };
}

t.test('writes land as upstream-shaped CRs: snake_case spec, {seconds, nanos} timestamps', async (t) => {
  const { api, registry } = await setup(t);
  await registry.endpoints.put(nse('nse-1'));
  const raw = api.get('networkserviceendpoints', 'nse-1', 'nsm-system', NSM_GROUP);
  t.same(raw?.spec, {
    name: 'nse-1', network_service_names: ['kernel2kernel'], network_service_labels: { kernel2kernel: { labels: { app: 'icmp' } } },
    url: 'tcp://10.0.0.7:5001', expiration_time: { seconds: 1893456000, nanos: 250000000 }, initial_registration_time: { seconds: 1700000000 },
  });
  t.equal(raw?.apiVersion, 'networkservicemesh.io/v1');
  await registry.services.put({ name: 'kernel2kernel', payload: 'ETHERNET', matches: [], pathIds: [] });
  t.same(api.get('networkservices', 'kernel2kernel', 'nsm-system', NSM_GROUP)?.spec, { name: 'kernel2kernel', payload: 'ETHERNET' });

  await until('cache sees the write', () => registry.endpoints.get('nse-1') !== undefined);
  const reads = () => api.requests.filter((r) => r.startsWith('GET') && r.endsWith('/networkserviceendpoints/nse-1')).length;
  const readsBefore = reads();
  await registry.endpoints.put(nse('nse-1', { url: 'tcp://10.0.0.8:5001' }));
  t.equal(reads(), readsBefore, 'a refresh of a cached object is one PUT, no GET first');
  t.equal(api.get('networkserviceendpoints', 'nse-1', 'nsm-system', NSM_GROUP)?.spec.url, 'tcp://10.0.0.8:5001', 'refresh replaces the object');
  await until('cache sees the update', () => registry.endpoints.get('nse-1')?.url === 'tcp://10.0.0.8:5001');
  t.equal(await registry.endpoints.delete('nse-1'), true);
  t.equal(await registry.endpoints.delete('nse-1'), false, 'deleting twice is not an error');
  await until('cache sees the delete', () => registry.endpoints.get('nse-1') === undefined);
});

t.test('reads come from the watch cache, not a list per lookup', async (t) => {
  const { api, registry } = await setup(t);
  api.create('networkserviceendpoints', { metadata: { name: 'nse-a', namespace: 'apps' }, spec: endpointToSpec(nse('nse-a')) }, NSM_GROUP);
  await until('watch delivers an object created elsewhere', () => registry.endpoints.get('nse-a') !== undefined);
  t.same(registry.endpoints.get('nse-a'), nse('nse-a'));
  const lists = () => api.requests.filter((r) => r.startsWith('GET') && r.includes('networkserviceendpoints') && !r.includes('watch=')).length;
  const before = lists();
  for (let i = 0; i < 100; i++) registry.endpoints.list();
  t.equal(lists(), before, '100 lookups, no list requests');
});

t.test('a watch that expires (410 Gone) relists and catches up on what changed in between', async (t) => {
  const { api, registry } = await setup(t);
  const changes: Change<NetworkServiceEndpoint>[] = [];
  registry.endpoints.watch((c) => changes.push(c));
  await registry.endpoints.put(nse('stays'));
  await registry.endpoints.put(nse('goes'));
  await until('both cached', () => registry.endpoints.list().length === 2);
  api.expireWatches('networkserviceendpoints');
  api.remove('networkserviceendpoints', 'goes', 'nsm-system', NSM_GROUP);
  api.create('networkserviceendpoints', { metadata: { name: 'arrives', namespace: 'nsm-system' }, spec: endpointToSpec(nse('arrives')) }, NSM_GROUP);
  await until('relisted', () => registry.endpoints.get('arrives') !== undefined && registry.endpoints.get('goes') === undefined);
  t.same(registry.endpoints.list().map((e) => e.name).sort(), ['arrives', 'stays']);
  t.ok(changes.some((c) => c.kind === 'delete' && c.name === 'goes'), 'the delete during the gap is reported');
  t.ok(changes.some((c) => c.kind === 'put' && c.object.name === 'arrives'));
  await until('watch re-established', () => api.openWatches('networkserviceendpoints') === 1);
});

t.test('a watch closed by the server and a failing list are retried', async (t) => {
  const { api, registry } = await setup(t);
  api.closeWatches();
  await until('watches re-opened', () => api.openWatches() === 2);
  api.failNextLists = 1;
  api.expireWatches('networkservices');
  api.create('networkservices', { metadata: { name: 'later', namespace: 'x' }, spec: { payload: 'IP' } }, NSM_GROUP);
  await until('recovered after a failed relist', () => registry.services.get('later')?.payload === 'IP', 15_000);
  t.equal(api.failNextLists, 0, 'the injected list failure was hit and recovered from');
});

t.test('opening against an API server without the CRDs names the problem', async (t) => {
  const api = await new FixtureApiServer().start();
  t.teardown(() => api.close());
  await t.rejects(openKubernetesRegistry({ kubeConfig: api.kubeConfig(), namespace: 'nsm-system', log: silentLogger() }), { code: 'NOT_FOUND', message: /are the NSM CRDs installed/ });
});

t.test('specs as upstream writes them parse; our specs round-trip', async (t) => {
  const upstream = serviceFromSpec('firewall-chain', { payload: 'ETHERNET', matches: [{ source_selector: { app: 'firewall' }, routes: [{ destination_selector: { app: 'passthrough-1' } }] }] });
  t.same(upstream, { name: 'firewall-chain', payload: 'ETHERNET', matches: [{ sourceSelector: { app: 'firewall' }, routes: [{ destinationSelector: { app: 'passthrough-1' }, weight: 0 }], fallthrough: false, metadata: undefined }], pathIds: [] });
  t.same(endpointFromSpec('from-metadata', {}).name, 'from-metadata', 'empty spec.name falls back to metadata.name');
  t.same(endpointFromSpec('x', { expiration_time: { seconds: '1893456000', nanos: 999999 } }).expirationTime, new Date(1893456000000));

  const map = fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 3 });
  const names = fc.array(fc.string({ minLength: 1, maxLength: 8 }), { maxLength: 3 });
  const date = fc.option(fc.integer({ min: 0, max: 4_000_000_000_000 }).map((ms) => new Date(ms)), { nil: undefined });
  const endpoint = fc.record({
    name: fc.string({ minLength: 1, maxLength: 10 }), networkServiceNames: names,
    networkServiceLabels: fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), map.map((labels) => ({ labels })), { maxKeys: 2 }),
    url: fc.string({ maxLength: 10 }), expirationTime: date, initialRegistrationTime: date, pathIds: names,
  });
  fc.assert(fc.property(endpoint, (e) => same(endpointFromSpec(e.name, endpointToSpec(e)), e)), { numRuns: 300 });
  const service = fc.record({
    name: fc.string({ minLength: 1, maxLength: 10 }), payload: fc.constantFrom('', 'IP', 'ETHERNET'), pathIds: names,
    matches: fc.array(fc.record({
      sourceSelector: map, fallthrough: fc.boolean(),
      routes: fc.array(fc.record({ destinationSelector: map, weight: fc.nat(10) }), { maxLength: 2 }),
      metadata: fc.option(map.map((labels) => ({ labels })), { nil: undefined }),
    }), { maxLength: 2 }),
  });
  fc.assert(fc.property(service, (s: RegistryNetworkService) => same(serviceFromSpec(s.name, serviceToSpec(s)), s)), { numRuns: 300 });
  t.pass('round trips hold');
});

t.test('problem(): names the API server while it cannot be reached; clears once a list succeeds again', async (t) => {
  const api = await new FixtureApiServer().define(NSES).define(NSS).start();
  const server = api.url;
  const port = Number(new URL(server).port);
  const registry = await openKubernetesRegistry({ kubeConfig: api.kubeConfig(), namespace: 'nsm-system', log: silentLogger() });
  t.teardown(() => registry.close());
  await registry.endpoints.put(nse('nse-1'));
  await until('the cache has nse-1', () => registry.endpoints.get('nse-1') !== undefined);
  t.equal(registry.problem?.(), undefined, 'current while the API answers');
  await api.close();
  await until('a problem', () => registry.problem?.() !== undefined);
  t.match(registry.problem?.(), new RegExp(`the registry \\(Kubernetes API ${server.replaceAll('.', '\\.')}\\) cannot be reached: `));
  t.ok(registry.endpoints.get('nse-1'), 'the cache still answers');
  await api.start(port);
  t.teardown(() => api.close());
  await until('the problem clears', () => registry.problem?.() === undefined, 40_000);
  t.pass('current again after a good list');
});
