import t from 'tap';
import { Connection, NetworkServiceRequest } from '../../../proto/api.ts';
import { begin, eventFactory } from '../../../sdk/chain/begin.ts';
import { chain } from '../../../sdk/chain/chain.ts';
import { metadata, metaKey } from '../../../sdk/chain/metadata.ts';
import { KeyedSerializer } from '../../../sdk/chain/serialize.ts';
import { newCtx, type Ctx, type Element } from '../../../sdk/chain/types.ts';
import { silentLogger } from '../../../sdk/log.ts';
import { sleep } from '../../fixtures/chain-probes.ts';

const req = (id: string, tag = '') => NetworkServiceRequest.fromPartial({ connection: { id, labels: tag ? { tag } : {} } });
const ctx = () => newCtx(silentLogger());

/** Records start/end of each event and how many run at once per id. */
function slowProbe(events: string[], delay = 5) {
  const running = new Map<string, number>();
  let maxParallelSameId = 0;
  let maxParallelAll = 0;
  const enter = (id: string) => {
    running.set(id, (running.get(id) ?? 0) + 1);
    maxParallelSameId = Math.max(maxParallelSameId, running.get(id)!);
    maxParallelAll = Math.max(maxParallelAll, [...running.values()].reduce((a, b) => a + b, 0));
  };
  const leave = (id: string) => running.set(id, running.get(id)! - 1);
  const element: Element = {
    name: 'slow',
    async request(c, r, next) {
      const id = r.connection!.id;
      enter(id);
      events.push(`req ${id} ${r.connection!.labels.tag ?? ''}`.trim());
      await sleep(delay);
      leave(id);
      return next.request(c, r);
    },
    async close(c, conn, next) {
      enter(conn.id);
      events.push(`close ${conn.id}`);
      await sleep(delay);
      leave(conn.id);
      return next.close(c, conn);
    },
  };
  return { element, stats: () => ({ maxParallelSameId, maxParallelAll }) };
}

t.test('events for one id run one at a time, in arrival order', async (t) => {
  const events: string[] = [];
  const probe = slowProbe(events);
  const c = chain([begin(), probe.element]);
  const calls = [];
  for (let i = 0; i < 10; i++) calls.push(c.request(ctx(), req('one', String(i))));
  calls.push(c.close(ctx(), Connection.fromPartial({ id: 'one' })));
  await Promise.all(calls);
  t.same(events, [...Array.from({ length: 10 }, (_, i) => `req one ${i}`), 'close one']);
  t.equal(probe.stats().maxParallelSameId, 1);
});

t.test('different ids run concurrently', async (t) => {
  const events: string[] = [];
  const probe = slowProbe(events, 20);
  const c = chain([begin(), probe.element]);
  await Promise.all(['a', 'b', 'c', 'd'].map((id) => c.request(ctx(), req(id))));
  t.equal(probe.stats().maxParallelAll, 4);
});

t.test('a failing event does not block the next one for the same id', async (t) => {
  let fail = true;
  const flaky: Element = { name: 'flaky', async request(c, r, next) { if (fail) { fail = false; throw new Error('first fails'); } return next.request(c, r); } };
  const c = chain([begin(), flaky]);
  const [a, b] = await Promise.allSettled([c.request(ctx(), req('x')), c.request(ctx(), req('x'))]);
  t.equal(a.status, 'rejected');
  t.equal(b.status, 'fulfilled');
});

t.test('close carries the connection the last request returned', async (t) => {
  const closed: Connection[] = [];
  const endpoint: Element = {
    name: 'endpoint',
    request: async (_c, r) => ({ ...r.connection!, networkServiceEndpointName: 'nse-1' }),
    close: async (_c, conn) => void closed.push(conn),
  };
  const b = begin();
  const c = chain([b, endpoint]);
  await c.request(ctx(), req('x'));
  t.equal(b.connections().get('x')?.networkServiceEndpointName, 'nse-1');
  await c.close(ctx(), Connection.fromPartial({ id: 'x' }));
  t.equal(closed[0].networkServiceEndpointName, 'nse-1');
  t.equal(b.connections().size, 0);
  await c.close(ctx(), Connection.fromPartial({ id: 'never-seen' }));
  t.equal(closed[1].id, 'never-seen', 'unknown ids pass through');
});

t.test('a request without an id is refused', async (t) => {
  await t.rejects(chain([begin()]).request(ctx(), NetworkServiceRequest.fromPartial({})), { code: 'INVALID_ARGUMENT' });
});

t.test('a cancelled caller does not start its queued event', async (t) => {
  const seen: string[] = [];
  const c = chain([begin(), { name: 'rec', request: async (cx: Ctx, r, next) => { seen.push(r.connection!.labels.tag); await sleep(10); return next.request(cx, r); } }]);
  const controller = new AbortController();
  const first = c.request(ctx(), req('x', 'first'));
  const second = c.request(newCtx(silentLogger(), controller.signal), req('x', 'second'));
  controller.abort();
  await first;
  await t.rejects(second);
  t.same(seen, ['first']);
});

t.test('events started inside the chain are queued with outside calls', async (t) => {
  const seen: string[] = [];
  let factory: ReturnType<typeof eventFactory> | undefined;
  const grab: Element = {
    name: 'grab',
    async request(c, r, next) {
      factory = eventFactory(c);
      seen.push(`request ${r.connection!.labels.tag ?? ''}`);
      return next.request(c, r);
    },
    async close(c, conn, next) {
      seen.push('close');
      return next.close(c, conn);
    },
  };
  const c = chain([begin(), grab]);
  await c.request(ctx(), req('x', 'outside'));
  const refreshed = await factory!.request();
  t.equal(refreshed.labels.tag, 'outside', 'refresh re-sends the stored request');
  await factory!.close();
  await factory!.close();
  t.same(seen, ['request outside', 'request outside', 'close'], 'second close of a closed connection does nothing');
  await t.rejects(factory!.request(), { code: 'NOT_FOUND' });
  t.throws(() => eventFactory(ctx()), /put begin before it/);
});

t.test('metadata lives from the first request until close; a failed first request leaves none', async (t) => {
  const key = metaKey<number>('count');
  const md = metadata();
  let failNext = false;
  const counter: Element = {
    name: 'counter',
    async request(c, r, next) {
      key.set(c, (key.get(c) ?? 0) + 1);
      if (failNext) throw new Error('fail');
      return { ...(await next.request(c, r)), labels: { count: String(key.get(c)) } };
    },
    async close(c, conn, next) {
      t.equal(key.delete(c), 2, 'state visible at close');
      t.equal(key.get(c), undefined);
      return next.close(c, conn);
    },
  };
  const c = chain([md, counter]);
  t.equal((await c.request(ctx(), req('a'))).labels.count, '1');
  t.equal((await c.request(ctx(), req('a'))).labels.count, '2');
  await c.close(ctx(), Connection.fromPartial({ id: 'a' }));
  t.equal(md.size(), 0);
  failNext = true;
  await t.rejects(c.request(ctx(), req('b')));
  t.equal(md.size(), 0, 'failed first request dropped its metadata');
  failNext = false;
  await c.request(ctx(), req('b'));
  failNext = true;
  await t.rejects(c.request(ctx(), req('b')));
  t.equal(md.size(), 1, 'a failed refresh keeps the established connection\'s metadata');
  t.throws(() => key.get(ctx()), /put the metadata element before it/);
});

t.test('KeyedSerializer forgets idle keys', async (t) => {
  const s = new KeyedSerializer();
  await Promise.all([s.run('a', async () => 1), s.run('b', async () => 2)]);
  await sleep(0);
  t.equal(s.activeKeys, 0);
});
