import t from 'tap';
import { Connection, NetworkServiceRequest } from '../../../proto/api.ts';
import { chain, tail } from '../../../sdk/chain/chain.ts';
import { closeQuietly, doNextOrUndo } from '../../../sdk/chain/rollback.ts';
import { ctxKey, newCtx, type Element } from '../../../sdk/chain/types.ts';
import { silentLogger } from '../../../sdk/log.ts';
import { failingRequest, recorder } from '../../fixtures/chain-probes.ts';
import { pino } from 'pino';

const req = (id: string) => NetworkServiceRequest.fromPartial({ connection: { id, networkService: 'svc' } });
const ctx = () => newCtx(silentLogger());

t.test('elements run in order on the way in and in reverse on the way out', async (t) => {
  const log: string[] = [];
  const c = chain([recorder('a', log), recorder('b', log), recorder('c', log)]);
  const conn = await c.request(ctx(), req('x'));
  t.equal(conn.id, 'x');
  t.same(log, ['a>', 'b>', 'c>', '<c', '<b', '<a']);
  log.length = 0;
  await c.close(ctx(), conn);
  t.same(log, ['a close', 'b close', 'c close']);
});

t.test('an element without a method passes straight through', async (t) => {
  const log: string[] = [];
  const c = chain([{ name: 'noop' }, recorder('b', log)]);
  await c.request(ctx(), req('x'));
  await c.close(ctx(), Connection.fromPartial({ id: 'x' }));
  t.same(log, ['b>', '<b', 'b close']);
});

t.test('the tail answers with the request\'s connection, or an empty one', async (t) => {
  t.equal((await tail.request(ctx(), req('y'))).id, 'y');
  t.equal((await tail.request(ctx(), NetworkServiceRequest.fromPartial({}))).id, '');
});

t.test('elements can change the response on the way back and pass values in ctx', async (t) => {
  const key = ctxKey<string>('greeting');
  const setter: Element = { name: 'set', request: (c, r, next) => next.request(key.with(c, 'hello'), r) };
  const reader: Element = {
    name: 'read',
    async request(c, r, next) {
      const conn = await next.request(c, r);
      return { ...conn, labels: { greeting: key.get(c) ?? 'none' } };
    },
  };
  const conn = await chain([setter, reader]).request(ctx(), req('z'));
  t.same(conn.labels, { greeting: 'hello' });
  t.equal(key.get(ctx()), undefined, 'the original ctx is untouched');
});

t.test('rollback: work is undone when next fails, and the original error surfaces', async (t) => {
  const done: string[] = [];
  const worker: Element = {
    name: 'worker',
    request: (c, r, next) => doNextOrUndo(c, 'worker',
      async () => { done.push('did'); return 'thing'; },
      () => next.request(c, r),
      async (thing) => { done.push(`undid ${thing}`); }),
  };
  await t.rejects(chain([worker, failingRequest('endpoint refused')]).request(ctx(), req('x')), /endpoint refused/);
  t.same(done, ['did', 'undid thing']);
  done.length = 0;
  await chain([worker]).request(ctx(), req('x'));
  t.same(done, ['did'], 'nothing undone on success');
});

t.test('rollback: a failing undo is logged and does not hide the original error', async (t) => {
  const lines: string[] = [];
  const log = pino({ level: 'error' }, { write: (s: string) => void lines.push(s) });
  const worker: Element = {
    name: 'worker',
    request: (c, r, next) => doNextOrUndo(c, 'worker', async () => 1, () => next.request(c, r), async () => { throw new Error('undo broke'); }),
  };
  await t.rejects(chain([worker, failingRequest('first failure')]).request(newCtx(log), req('x')), /first failure/);
  t.match(lines.join(''), /rollback failed/);
  t.match(lines.join(''), /undo broke/);
});

t.test('closeQuietly: a far side that fails to close is logged; the element\'s own error is what the caller sees', async (t) => {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'error' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  let closed = 0;
  const farSide: Element = { name: 'far', close: async () => { closed++; throw new Error('far side gone'); } };
  const worker: Element = {
    name: 'worker',
    async request(c, r, next) {
      const resp = await next.request(c, r);
      await closeQuietly(c, 'worker', next, resp);
      throw new Error('worker failed after next');
    },
  };
  await t.rejects(chain([worker, farSide]).request(newCtx(log), req('x')), /worker failed after next/);
  t.equal(closed, 1, 'the far side was asked to close');
  t.match(lines[0], { element: 'worker', connId: 'x', msg: /closing the far side after a failure failed/ });
  t.match(String((lines[0].err as { message?: string })?.message), /far side gone/);
});

t.test('trace logs each element at debug level with its duration', async (t) => {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const c = chain([recorder('a', []), recorder('b', [])]);
  const conn = await c.request(newCtx(log), req('x'));
  await c.close(newCtx(log), conn);
  await t.rejects(chain([failingRequest('boom')]).request(newCtx(log), req('y')));
  const msgs = lines.map((l) => `${l.element}:${l.msg}`);
  t.same(msgs, ['a:request', 'b:request', 'b:request done', 'a:request done', 'a:close', 'b:close', 'b:close done', 'a:close done', 'inject-error:request', 'inject-error:request failed']);
  t.ok(lines.every((l) => l.connId === 'x' || l.connId === 'y'));
  t.ok(lines.filter((l) => String(l.msg).endsWith('done')).every((l) => typeof l.durationMs === 'number'));
  const failingClose: Element = { name: 'fc', close: async () => { throw new Error('close broke'); } };
  await t.rejects(chain([failingClose]).close(newCtx(log), conn), /close broke/);
  t.equal(lines.at(-1)?.msg, 'close failed');
});

t.test('chains can be built without tracing', async (t) => {
  const log: string[] = [];
  await chain([recorder('a', log)], { trace: false }).request(ctx(), req('x'));
  t.same(log, ['a>', '<a']);
});

t.test('an element that throws before returning a promise still rejects, with debug on or off, traced or not', async (t) => {
  const sync: Element = {
    name: 'sync',
    request: () => { throw new Error('thrown at once'); },
    close: () => { throw new Error('close thrown at once'); },
  };
  for (const trace of [true, false]) {
    for (const level of ['info', 'debug'] as const) {
      const c = chain([sync], { trace });
      const log = pino({ level }, { write: () => {} });
      const pending = c.request(newCtx(log), req('x'));
      t.ok(pending instanceof Promise, `${level}, trace ${trace}: a promise`);
      await t.rejects(pending, /thrown at once/);
      await t.rejects(c.close(newCtx(log), Connection.fromPartial({ id: 'x' })), /close thrown at once/);
    }
  }
});

t.test('a chain refuses, when it is built, an element placed before what it needs', async (t) => {
  const meta: Element = { name: 'metadata', provides: ['metadata'] };
  const user: Element = { name: 'user', needs: ['metadata', 'endpoint'] };
  const picker: Element = { name: 'picker', provides: ['endpoint'] };
  t.doesNotThrow(() => chain([meta, picker, user]), 'needs met in order');
  t.throws(() => chain([meta, user, picker]), { name: 'Error', message: 'chain element "user" needs "endpoint" (provided by picker, which must come before it); order: metadata -> user -> picker' });
  t.throws(() => chain([user]), { message: /needs "metadata" \(provided by no element of this chain\), "endpoint"/ });
  t.doesNotThrow(() => chain([user], { given: ['metadata', 'endpoint'] }), 'a sub-chain is told what the chain around it provides');
});
