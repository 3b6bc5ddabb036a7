import { CustomObjectsApi, PatchStrategy, setHeaderOptions, Watch } from '@kubernetes/client-node';
import t from 'tap';
import { startFixtureApiServer } from '../fixtures/kube-api-server.ts';

const NSE = { group: 'networkservicemesh.io', version: 'v1', plural: 'networkserviceendpoints', kind: 'NetworkServiceEndpoint', namespaced: true };
const coords = { group: NSE.group, version: NSE.version, plural: NSE.plural, namespace: 'nsm-system' };

t.test('namespaced custom resources through client-node: CRUD, merge patch, selectors', async (t) => {
  const api = await startFixtureApiServer(NSE);
  t.teardown(() => api.close());
  const crd = api.kubeConfig().makeApiClient(CustomObjectsApi);
  const created = await crd.createNamespacedCustomObject({ ...coords, body: { apiVersion: 'networkservicemesh.io/v1', kind: 'NetworkServiceEndpoint', metadata: { name: 'nse-1', labels: { app: 'x' } }, spec: { network_service_names: ['icmp'] } } });
  t.equal(created.metadata.namespace, 'nsm-system');
  t.ok(created.metadata.resourceVersion);
  await t.rejects(crd.createNamespacedCustomObject({ ...coords, body: { metadata: { name: 'nse-1' } } }), { code: 409 });
  const patched = await crd.patchNamespacedCustomObject({ ...coords, name: 'nse-1', body: { spec: { url: 'tcp://1.2.3.4:5001' } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  t.same(patched.spec, { network_service_names: ['icmp'], url: 'tcp://1.2.3.4:5001' });
  const replaced = await crd.replaceNamespacedCustomObject({ ...coords, name: 'nse-1', body: { ...patched, spec: { url: 'tcp://5.6.7.8:5001' } } });
  t.same(replaced.spec, { url: 'tcp://5.6.7.8:5001' });
  await t.rejects(crd.replaceNamespacedCustomObject({ ...coords, name: 'nse-1', body: { ...patched } }), { code: 409 }, 'stale resourceVersion: conflict');
  const list = await crd.listNamespacedCustomObject({ ...coords, labelSelector: 'app=x' });
  t.equal(list.items.length, 1);
  t.ok(list.metadata.resourceVersion);
  t.equal((await crd.listNamespacedCustomObject({ ...coords, labelSelector: 'app=y' })).items.length, 0);
  t.equal((await crd.getNamespacedCustomObject({ ...coords, name: 'nse-1' })).spec.url, 'tcp://5.6.7.8:5001');
  await crd.deleteNamespacedCustomObject({ ...coords, name: 'nse-1' });
  await t.rejects(crd.getNamespacedCustomObject({ ...coords, name: 'nse-1' }), { code: 404 });
});

t.test('watch wire format: replay from a resourceVersion, live events, 410 after compaction', async (t) => {
  const api = await startFixtureApiServer(NSE);
  t.teardown(() => api.close());
  const first = api.create(NSE.plural, { metadata: { name: 'a', namespace: 'ns1' } }, NSE.group);
  api.create(NSE.plural, { metadata: { name: 'b', namespace: 'ns1' } }, NSE.group);
  const events: Array<[string, any]> = [];
  let done: unknown = 'open';
  const watch = new Watch(api.kubeConfig());
  const ctl = await watch.watch('/apis/networkservicemesh.io/v1/namespaces/ns1/networkserviceendpoints', { resourceVersion: first.metadata.resourceVersion, allowWatchBookmarks: true }, (type, obj) => events.push([type, obj]), (err) => (done = err));
  t.teardown(() => ctl.abort());
  await new Promise((r) => setTimeout(r, 50));
  api.remove(NSE.plural, 'a', 'ns1', NSE.group);
  api.bookmark();
  await new Promise((r) => setTimeout(r, 50));
  t.same(events.map(([type, o]) => `${type} ${o.metadata.name ?? ''}`), ['ADDED b', 'DELETED a', 'BOOKMARK '], 'replayed, live, bookmark');
  api.expireWatches();
  await new Promise((r) => setTimeout(r, 50));
  t.same(events.at(-1)?.[0], 'ERROR');
  t.equal(events.at(-1)?.[1].code, 410);
  t.equal(done, null, 'stream closed');
  const res = await fetch(`${api.url}/apis/networkservicemesh.io/v1/networkserviceendpoints?watch=true&resourceVersion=${first.metadata.resourceVersion}`);
  const line = JSON.parse((await res.text()).trim());
  t.same([line.type, line.object.code, line.object.reason], ['ERROR', 410, 'Expired'], 'old resourceVersion after compaction: 410');
  t.same(await (await fetch(`${api.url}/version`)).json(), { major: '1', minor: '31', gitVersion: 'v1.31.0', platform: 'linux/amd64' });
});
