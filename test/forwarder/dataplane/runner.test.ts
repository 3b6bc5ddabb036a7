import t from 'tap';
import { IpBatchRunner, KernelError, type Netns } from '../../../forwarder/dataplane/runner.ts';
import { isNsmError } from '../../../sdk/errors.ts';
import { FakeIpSession, type LineEffect } from '../../fixtures/fake-ip.ts';

const NS: Netns = { path: '/run/netns/a', key: 'a' };
const OTHER: Netns = { path: '/run/netns/b', key: 'b' };

/** A runner over emulated `ip` processes; `effect` decides what each line does. */
function setup(effect: (line: string) => LineEffect = () => undefined) {
  const sessions: Array<{ path: string; s: FakeIpSession }> = [];
  const runner = new IpBatchRunner({
    idleMs: 50,
    session: (path) => {
      const s = new FakeIpSession(effect);
      sessions.push({ path, s });
      return s;
    },
  });
  const ran = () => sessions.flatMap((x) => x.s.lines).filter((l) => l !== 'nsm-group-end');
  return { runner, sessions, ran };
}

t.test('one process per namespace, kept between calls; calls of one turn share a write', async (t) => {
  const { runner, sessions, ran } = setup();
  await Promise.all([runner.run(NS, ['a1', 'a2']), runner.run(NS, ['b1']), runner.run(OTHER, ['c1'])]);
  await runner.run(NS, ['d1']);
  t.same(sessions.map((s) => s.path), ['/run/netns/a', '/run/netns/b']);
  t.equal(runner.writes, 3, 'a1..b1 in one write, c1, then d1');
  t.same(ran().sort(), ['a1', 'a2', 'b1', 'c1', 'd1']);
});

t.test('a failed line fails only its own call, with the first failure; its later lines still run', async (t) => {
  const { runner, ran } = setup((l) => (l.startsWith('bad') ? { fail: `RTNETLINK answers: ${l === 'bad-exists' ? 'File exists' : 'No such device'}` } : undefined));
  const results = await Promise.allSettled([
    runner.run(NS, ['ok1']),
    runner.run(NS, ['ok2', 'bad-exists', 'bad-gone', 'after']),
    runner.run(NS, ['ok3']),
  ]);
  t.same(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
  const err = (results[1] as PromiseRejectedResult).reason;
  t.ok(err instanceof KernelError);
  t.equal(err.command, 'bad-exists');
  t.equal(err.code, 'ALREADY_EXISTS');
  t.ok(ran().includes('after'), 'ip -force goes on after a failure');
});

t.test('finally lines run once per batch, after the lines of every call that asked for them', async (t) => {
  const { runner, ran } = setup((l) => (l === 'down gone' ? { fail: 'Cannot find device "gone"' } : undefined));
  const del = { finally: ['del group 9'] };
  const results = await Promise.allSettled([runner.run(NS, ['down x'], del), runner.run(NS, ['down y'], del), runner.run(NS, ['down gone'], del)]);
  t.same(ran(), ['down x', 'down y', 'down gone', 'del group 9']);
  t.same(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected'], 'a call keeps its own failure');
});

t.test('a failed finally line fails every call that asked for it, not the others', async (t) => {
  const { runner } = setup((l) => (l === 'del group 9' ? { fail: 'RTNETLINK answers: Operation not permitted' } : undefined));
  const results = await Promise.allSettled([runner.run(NS, ['x'], { finally: ['del group 9'] }), runner.run(NS, ['y'], { finally: ['del group 8'] }), runner.run(NS, ['z'])]);
  t.same(results.map((r) => r.status), ['rejected', 'fulfilled', 'fulfilled']);
  t.match((results[0] as PromiseRejectedResult).reason, { command: 'del group 9' });
});

t.test('a process that dies fails the call it died in; the calls after it run in a new process', async (t) => {
  const { runner, sessions, ran } = setup((l) => (l === 'fatal' ? { exit: 'Error: any valid prefix is expected rather than "999.1.1.1/32".' } : undefined));
  const results = await Promise.allSettled([
    runner.run(NS, ['first']),
    runner.run(NS, ['before', 'fatal', 'never']),
    runner.run(NS, ['third']),
    runner.run(NS, ['fourth'], { finally: ['del group 9'] }),
  ]);
  t.same(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
  const err = (results[1] as PromiseRejectedResult).reason;
  t.ok(isNsmError(err, 'INTERNAL'));
  t.match(err.message, /died running this call: Error: any valid prefix/);
  t.equal(sessions.length, 2, 'a second process took over');
  t.same(ran(), ['first', 'before', 'fatal', 'third', 'fourth', 'del group 9'], 'nothing ran twice and "never" never ran');
});

t.test('finals whose process died before running them run in the next one', async (t) => {
  const { runner, sessions, ran } = setup((l) => (l === 'fatal' ? { exit: 'boom' } : undefined));
  const slow = runner.run(NS, ['x'], { finally: ['del group 9'] });
  // Both calls form one batch: x, fatal, then the finals, which the dying process never reads.
  const dead = runner.run(NS, ['fatal'], { finally: ['del group 9'] });
  await t.rejects(dead, /died running this call: boom/);
  await slow;
  t.same(ran(), ['x', 'fatal', 'del group 9']);
  t.equal(sessions.length, 2);
});

t.test('a process that cannot start fails every call sent to it, naming the namespace', async (t) => {
  const gone = 'nsenter: cannot open /run/netns/a: No such file or directory';
  const runner = new IpBatchRunner({ session: () => new FakeIpSession(() => undefined, gone) });
  const results = await Promise.allSettled([runner.run(NS, ['x']), runner.run(NS, ['y'])]);
  for (const r of results) t.equal((r as PromiseRejectedResult).reason?.message, `cannot program /run/netns/a: ${gone}; ip exited with status 1`);
});

t.test('idle processes end after idleMs; the next call starts a new one', async (t) => {
  const { runner, sessions } = setup();
  await runner.run(NS, ['x']);
  t.ok(sessions[0].s.alive);
  await new Promise((r) => setTimeout(r, 150));
  t.notOk(sessions[0].s.alive, 'ended while idle');
  await runner.run(NS, ['y']);
  t.equal(sessions.length, 2);
  runner.close();
});

t.test('beyond maxIdle, an idle process ends at once', async (t) => {
  const sessions: FakeIpSession[] = [];
  const runner = new IpBatchRunner({ idleMs: 10_000, maxIdle: 1, session: () => { const s = new FakeIpSession(() => undefined); sessions.push(s); return s; } });
  await runner.run(NS, ['x']);
  await runner.run(OTHER, ['y']);
  await new Promise((r) => setImmediate(r));
  t.same(sessions.map((s) => s.alive), [true, false]);
  runner.close();
  await new Promise((r) => setImmediate(r));
  t.same(sessions.map((s) => s.alive), [false, false], 'close ends the idle ones');
});

t.test('commands that are not one line are refused before anything runs', async (t) => {
  const { runner, sessions } = setup();
  await t.rejects(runner.run(NS, ['link add a\nlink del b']), /spans more than one line/);
  await t.rejects(runner.run(NS, ['x'], { finally: ['y \\'] }), /spans more than one line/);
  t.equal(sessions.length, 0);
  await runner.run(NS, []);
  t.equal(sessions.length, 0, 'an empty call runs nothing');
});
