import { CoreV1Api, type V1Namespace } from '@kubernetes/client-node';
import t from 'tap';
import { keptListWatch } from '../../../sdk/k8s/kept-list-watch.ts';
import { silentLogger } from '../../../sdk/log.ts';
import { VirtualClock } from '../../fixtures/clock.ts';
import { startFixtureApiServer, type FixtureApiServer } from '../../fixtures/kube-api-server.ts';
import { within } from '../../fixtures/wait.ts';

const noDelay = async () => {};

function namespaces(api: FixtureApiServer, clock: VirtualClock) {
  const kc = api.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  return keptListWatch<V1Namespace>({
    kubeConfig: kc, path: '/api/v1/namespaces', resource: 'namespaces', log: silentLogger(), list: () => core.listNamespace(),
    retryDelayMs: 100, maxRetryDelayMs: 250, reconnectDelay: noDelay, clock,
  });
}

const lists = (api: FixtureApiServer) => api.requests.filter((r) => r.startsWith('GET /api/v1/namespaces') && !r.includes('watch=true')).length;

t.test('failed lists restart it after a growing delay up to the cap; a good list starts the delay afresh', async (t) => {
  const api = await startFixtureApiServer();
  t.teardown(() => api.close());
  api.create('namespaces', { metadata: { name: 'a' } });
  api.failNextLists = 3;
  const clock = new VirtualClock();
  const kept = namespaces(api, clock);
  t.teardown(() => kept.stop());
  await kept.start();
  t.ok(await within(5000, () => api.openWatches('namespaces') === 1), 'watching after three failed lists');
  t.same(clock.sleeps, [100, 200, 250]);
  t.ok(kept.informer.get('a'), 'the cache holds what was listed');

  // 410 Gone: ListWatch relists by itself; that list fails, and the restart waits the floor again.
  api.failNextLists = 1;
  api.expireWatches();
  t.ok(await within(5000, () => clock.sleeps.length === 4 && api.openWatches('namespaces') === 1), 'restarted and watching again');
  t.same(clock.sleeps, [100, 200, 250, 100]);
  api.create('namespaces', { metadata: { name: 'b' } });
  t.ok(await within(5000, () => kept.informer.get('b') !== undefined), 'later events arrive');
});

t.test('failFast: a first list that fails rejects, and nothing is retried', async (t) => {
  const api = await startFixtureApiServer();
  t.teardown(() => api.close());
  api.failNextLists = 1;
  const clock = new VirtualClock();
  const kept = namespaces(api, clock);
  await t.rejects(kept.start({ failFast: true }), /injected list failure|500/);
  t.equal(lists(api), 1, 'one list');
  t.same(clock.sleeps, [], 'no restart waited for');
  t.equal(api.openWatches(), 0, 'no watch');
  await kept.stop();
});

t.test('failFast: resolves after the first list; later failures are retried', async (t) => {
  const api = await startFixtureApiServer();
  t.teardown(() => api.close());
  api.create('namespaces', { metadata: { name: 'a' } });
  const clock = new VirtualClock();
  const kept = namespaces(api, clock);
  t.teardown(() => kept.stop());
  await kept.start({ failFast: true });
  t.ok(kept.informer.get('a'), 'listed before start() resolved');
  api.failNextLists = 1;
  api.expireWatches();
  t.ok(await within(5000, () => clock.sleeps.length === 1 && api.openWatches('namespaces') === 1), 'restarted after the floor wait, watching again');
  t.same(clock.sleeps, [100]);
});

t.test('stop() during a restart wait ends it; nothing is left waiting or watching', async (t) => {
  const api = await startFixtureApiServer();
  t.teardown(() => api.close());
  api.failNextLists = 1;
  const clock = new VirtualClock();
  clock.hold = () => true;
  const kept = namespaces(api, clock);
  await kept.start();
  t.ok(await within(5000, () => clock.waiting.length === 1), 'waiting to restart');
  await kept.stop();
  t.same(clock.waiting, []);
  t.equal(api.openWatches(), 0);
  t.equal(lists(api), 1, 'no list after the stop');
});
