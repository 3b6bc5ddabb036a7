import t, { type Test } from 'tap';
import { silentLogger } from '../../sdk/log.ts';
import { serverMinorVersion } from '../../webhook/kube-version.ts';
import { startNamespaceCache } from '../../webhook/namespace-cache.ts';
import { startFixtureApiServer } from '../fixtures/kube-api-server.ts';

/** Polls until check() holds; fails the test after `ms`. */
async function until(t: Test, what: string, check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) {
      t.fail(`timed out waiting for ${what}`);
      return;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  t.pass(what);
}

const noDelay = async () => {};

t.test('lists, then follows the watch: add, modify, delete', async (t) => {
  const api = await startFixtureApiServer();
  t.teardown(() => api.close());
  api.create('namespaces', { metadata: { name: 'demo', annotations: { 'networkservicemesh.io': 'kernel://a/nsm-1' } } });
  const cache = startNamespaceCache(api.kubeConfig(), silentLogger(), { reconnectDelay: noDelay });
  t.teardown(() => cache.stop());
  await until(t, 'synced', () => cache.synced());
  t.equal(cache.lookup('demo')?.annotations['networkservicemesh.io'], 'kernel://a/nsm-1');
  t.equal(cache.lookup('missing'), undefined);
  await until(t, 'watch open', () => api.openWatches('namespaces') === 1);
  api.create('namespaces', { metadata: { name: 'new', labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } });
  await until(t, 'added namespace seen', () => cache.lookup('new')?.labels['pod-security.kubernetes.io/enforce'] === 'restricted');
  api.update('namespaces', { metadata: { name: 'demo', annotations: { 'networkservicemesh.io': 'kernel://b/nsm-1' } } });
  await until(t, 'modification seen', () => cache.lookup('demo')?.annotations['networkservicemesh.io'] === 'kernel://b/nsm-1');
  api.remove('namespaces', 'new');
  await until(t, 'deletion seen', () => cache.lookup('new') === undefined);
  t.notOk(api.requests.some((r) => /^GET \/api\/v1\/namespaces\/[^?]/.test(r)), 'never a GET of a single namespace');
});

t.test('410 Gone on the watch: relists and catches up with what changed meanwhile', async (t) => {
  const api = await startFixtureApiServer();
  t.teardown(() => api.close());
  api.create('namespaces', { metadata: { name: 'a' } });
  const cache = startNamespaceCache(api.kubeConfig(), silentLogger(), { reconnectDelay: noDelay });
  t.teardown(() => cache.stop());
  await until(t, 'watch open', () => cache.synced() && api.openWatches() === 1);
  const listsBefore = api.requests.filter((r) => r.startsWith('GET /api/v1/namespaces') && !r.includes('watch=true')).length;
  api.expireWatches();
  api.create('namespaces', { metadata: { name: 'b' } });
  await until(t, 'relisted after 410', () => api.requests.filter((r) => r.startsWith('GET /api/v1/namespaces') && !r.includes('watch=true')).length > listsBefore);
  await until(t, 'object created during the gap is known', () => cache.lookup('b') !== undefined);
  await until(t, 'watching again', () => api.openWatches() === 1);
  api.create('namespaces', { metadata: { name: 'c' } });
  await until(t, 'later events arrive', () => cache.lookup('c') !== undefined);
});

t.test('closed watches resume from the last resourceVersion; list errors retry', async (t) => {
  const api = await startFixtureApiServer();
  t.teardown(() => api.close());
  api.failNextLists = 2;
  const cache = startNamespaceCache(api.kubeConfig(), silentLogger(), { reconnectDelay: noDelay, retryDelayMs: 20 });
  t.teardown(() => cache.stop());
  t.notOk(cache.synced(), 'not synced while the list fails');
  await until(t, 'synced after retries', () => cache.synced());
  await until(t, 'watch open', () => api.openWatches() === 1);
  api.closeWatches();
  api.create('namespaces', { metadata: { name: 'x' } });
  await until(t, 'event after reconnect', () => cache.lookup('x') !== undefined);
  const watches = api.requests.filter((r) => r.includes('watch=true'));
  t.match(watches.at(-1), /resourceVersion=\d+/, 'resumed with a resourceVersion');
});

t.test('server version for native sidecars', async (t) => {
  const api = await startFixtureApiServer();
  t.teardown(() => api.close());
  api.setVersion('1', '29+');
  t.equal(await serverMinorVersion(api.kubeConfig(), 2000), 29);
  api.setVersion('1', '27');
  t.equal(await serverMinorVersion(api.kubeConfig(), 2000), 27);
  const kc = api.kubeConfig();
  await api.close();
  t.equal(await serverMinorVersion(kc, 2000), undefined, 'unreachable: unknown');
});
