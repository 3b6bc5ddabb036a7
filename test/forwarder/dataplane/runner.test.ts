import t from 'tap';
import { IpBackend } from '../../../forwarder/dataplane/ip/session.ts';
import { KernelError } from '../../../forwarder/dataplane/kernel-error.ts';
import type { KernelOp } from '../../../forwarder/dataplane/kernel-op.ts';
import { deleteGroup, setLink } from '../../../forwarder/dataplane/ops.ts';
import { BatchRunner, type Netns } from '../../../forwarder/dataplane/runner.ts';
import { isNsmError } from '../../../sdk/errors.ts';
import { FakeIpProcess, type LineEffect } from '../../fixtures/fake-ip.ts';

const NS: Netns = { path: '/run/netns/a', key: 'a' };
const OTHER: Netns = { path: '/run/netns/b', key: 'b' };

/** An op whose batch line is `link set dev <name> up`, so emulated `ip` can tell ops apart by name. */
const up = (name: string) => setLink({ name, up: true });
const line = (name: string) => `link set dev ${name} up`;
const named = (l: string) => l.replace(/^link set dev (\S+) up$/, '$1');

/** A runner over emulated `ip` processes; `effect` decides what each line does. */
function setup(effect: (line: string) => LineEffect = () => undefined) {
  const processes: Array<{ path: string; s: FakeIpProcess }> = [];
  const backend = new IpBackend((path) => {
    const s = new FakeIpProcess(effect);
    processes.push({ path, s });
    return s;
  });
  const runner = new BatchRunner({ idleMs: 50, backend });
  const ran = () => processes.flatMap((x) => x.s.lines).filter((l) => l !== 'nsm-group-end').map(named);
  return { runner, backend, processes, ran };
}

t.test('one process per namespace, kept between calls; calls of one turn share a write', async (t) => {
  const { runner, processes, ran } = setup();
  await Promise.all([runner.run(NS, [up('a1'), up('a2')]), runner.run(NS, [up('b1')]), runner.run(OTHER, [up('c1')])]);
  await runner.run(NS, [up('d1')]);
  t.same(processes.map((s) => s.path), ['/run/netns/a', '/run/netns/b']);
  t.equal(runner.writes, 3, 'a1..b1 in one write, c1, then d1');
  t.same(ran().sort(), ['a1', 'a2', 'b1', 'c1', 'd1']);
});

t.test('a refused op fails only its own call, with the first refusal in the kernel\'s words; its later ops still run', async (t) => {
  const { runner, ran } = setup((l) => (l.includes('bad') ? { fail: `RTNETLINK answers: ${l === line('bad-exists') ? 'File exists' : 'No such device'}` } : undefined));
  const exists = up('bad-exists');
  const results = await Promise.allSettled([
    runner.run(NS, [up('ok1')]),
    runner.run(NS, [up('ok2'), exists, up('bad-gone'), up('after')]),
    runner.run(NS, [up('ok3')]),
  ]);
  t.same(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
  const err = (results[1] as PromiseRejectedResult).reason;
  t.ok(err instanceof KernelError);
  t.equal(err.op, exists, 'the op it names is the one refused');
  t.equal(err.code, 'ALREADY_EXISTS');
  t.equal(err.words, 'File exists');
  t.equal(err.message, 'kernel refused set-link bad-exists up in /run/netns/a: File exists');
  t.ok(ran().includes('after'), 'ip -force goes on after a failure');
});

t.test('a missing device is NOT_FOUND, a refusal without a known errno INTERNAL', async (t) => {
  const { runner } = setup((l) => (l === line('gone') ? { fail: 'Cannot find device "gone"' } : l === line('odd') ? { fail: 'RTNETLINK answers: Operation not permitted' } : undefined));
  await t.rejects(runner.run(NS, [up('gone')]), { code: 'NOT_FOUND', message: 'kernel refused set-link gone up in /run/netns/a: Cannot find device "gone"' });
  await t.rejects(runner.run(NS, [up('odd')]), { code: 'INTERNAL', words: 'Operation not permitted' });
});

t.test('finally ops run once per batch, after the ops of every call that asked for them', async (t) => {
  const { runner, processes } = setup((l) => (l === line('gone') ? { fail: 'Cannot find device "gone"' } : undefined));
  const del = { finally: [deleteGroup(9)] };
  const results = await Promise.allSettled([runner.run(NS, [up('x')], del), runner.run(NS, [up('y')], del), runner.run(NS, [up('gone')], del)]);
  t.same(processes[0].s.lines.filter((l) => l !== 'nsm-group-end'), [line('x'), line('y'), line('gone'), 'link del group 9']);
  t.same(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected'], 'a call keeps its own failure');
});

t.test('a refused final fails every call that asked for it, not the others', async (t) => {
  const { runner } = setup((l) => (l === 'link del group 9' ? { fail: 'RTNETLINK answers: Operation not permitted' } : undefined));
  const results = await Promise.allSettled([runner.run(NS, [up('x')], { finally: [deleteGroup(9)] }), runner.run(NS, [up('y')], { finally: [deleteGroup(8)] }), runner.run(NS, [up('z')])]);
  t.same(results.map((r) => r.status), ['rejected', 'fulfilled', 'fulfilled']);
  t.same((results[0] as PromiseRejectedResult).reason.op, deleteGroup(9));
});

t.test('a process that dies fails the call it died in; the calls after it run in a new process', async (t) => {
  const { runner, backend, ran } = setup((l) => (l === line('fatal') ? { exit: 'Error: any valid prefix is expected rather than "999.1.1.1/32".' } : undefined));
  const results = await Promise.allSettled([
    runner.run(NS, [up('first')]),
    runner.run(NS, [up('before'), up('fatal'), up('never')]),
    runner.run(NS, [up('third')]),
    runner.run(NS, [up('fourth')], { finally: [deleteGroup(9)] }),
  ]);
  t.same(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
  const err = (results[1] as PromiseRejectedResult).reason;
  t.ok(err instanceof KernelError && isNsmError(err, 'INTERNAL'));
  t.equal(err.message, 'the kernel session for /run/netns/a died running this call (set-link before up and 2 more): Error: any valid prefix is expected rather than "999.1.1.1/32".; ip exited with status 255');
  t.equal(backend.processes, 2, 'a second process took over');
  t.same(ran(), ['first', 'before', 'fatal', 'third', 'fourth', 'link del group 9'], 'nothing ran twice and "never" never ran');
});

t.test('finals whose process died before running them run in the next one', async (t) => {
  const { runner, backend, ran } = setup((l) => (l === line('fatal') ? { exit: 'boom' } : undefined));
  const slow = runner.run(NS, [up('x')], { finally: [deleteGroup(9)] });
  // Both calls form one batch: x, fatal, then the finals, which the dying process never reads.
  const dead = runner.run(NS, [up('fatal')], { finally: [deleteGroup(9)] });
  await t.rejects(dead, /died running this call \(set-link fatal up\): boom/);
  await slow;
  t.same(ran(), ['x', 'fatal', 'link del group 9']);
  t.equal(backend.processes, 2);
});

t.test('a process that cannot start fails every call sent to it, naming the namespace', async (t) => {
  const gone = 'nsenter: cannot open /run/netns/a: No such file or directory';
  const runner = new BatchRunner({ backend: new IpBackend(() => new FakeIpProcess(() => undefined, gone)) });
  const results = await Promise.allSettled([runner.run(NS, [up('x')]), runner.run(NS, [up('y')])]);
  t.same(results.map((r) => (r as PromiseRejectedResult).reason?.message), ['x', 'y'].map((n) => `cannot program /run/netns/a: ${gone}; ip exited with status 1 (running set-link ${n} up)`));
  t.ok(results.every((r) => isNsmError((r as PromiseRejectedResult).reason, 'INTERNAL')));
});

t.test('idle sessions end after idleMs; the next call starts a new process', async (t) => {
  const { runner, processes } = setup();
  await runner.run(NS, [up('x')]);
  t.ok(processes[0].s.alive);
  await new Promise((r) => setTimeout(r, 150));
  t.notOk(processes[0].s.alive, 'ended while idle');
  await runner.run(NS, [up('y')]);
  t.equal(processes.length, 2);
  t.equal(runner.sessions, 2);
  runner.close();
});

t.test('beyond maxIdle, an idle session ends at once', async (t) => {
  const processes: FakeIpProcess[] = [];
  const runner = new BatchRunner({ idleMs: 10_000, maxIdle: 1, backend: new IpBackend(() => { const s = new FakeIpProcess(() => undefined); processes.push(s); return s; }) });
  await runner.run(NS, [up('x')]);
  await runner.run(OTHER, [up('y')]);
  await new Promise((r) => setImmediate(r));
  t.same(processes.map((s) => s.alive), [true, false]);
  runner.close();
  await new Promise((r) => setImmediate(r));
  t.same(processes.map((s) => s.alive), [false, false], 'close ends the idle ones');
});

t.test('ops that break a rule are refused before anything runs', async (t) => {
  const { runner, processes } = setup();
  const twoLines = { op: 'set-link', name: 'nsm-1', alias: 'a\nlink del dev eth0' } as KernelOp;
  await t.rejects(runner.run(NS, [up('ok'), twoLines]), { code: 'INVALID_ARGUMENT', field: 'alias', message: /^invalid set-link: alias "a\\nlink del dev eth0" contains whitespace/ });
  await t.rejects(runner.run(NS, [up('x')], { finally: [{ op: 'delete-group', group: -1 }] }), { code: 'INVALID_ARGUMENT', field: 'group' });
  t.equal(processes.length, 0, 'nothing was written anywhere');
  await runner.run(NS, []);
  t.equal(processes.length, 0, 'an empty call runs nothing');
});

t.test('a hostile op, then a good one in the same namespace: the good one runs in the same session', async (t) => {
  const { runner, processes, ran } = setup();
  const hostile = [
    { op: 'set-link', name: 'k1 netns x #', up: true },
    { op: 'set-link', name: 'nsm-1', alias: 'conn"1' },
    { op: 'add-veth', name: 'a%d', peer: 'b', peerNetns: '/run/netns/b' },
  ] as KernelOp[];
  await runner.run(NS, [up('before')]);
  const results = await Promise.allSettled([...hostile.map((op) => runner.run(NS, [op])), runner.run(NS, [up('good')])]);
  t.same(results.map((r) => r.status), ['rejected', 'rejected', 'rejected', 'fulfilled']);
  t.same(ran(), ['before', 'good'], 'nothing hostile reached ip');
  t.equal(processes.length, 1, 'the same process served both');
});

t.test('the ip session refuses a value no batch line may carry, alone, and writes the groups around it', async (t) => {
  const processes: FakeIpProcess[] = [];
  const session = new IpBackend(() => { const s = new FakeIpProcess(() => undefined); processes.push(s); return s; }).open(NS);
  // An op that slipped past the checks (they are the runner's): the session is safe on its own.
  const slipped = { op: 'set-link', name: 'nsm-1', alias: "it's" } as KernelOp;
  const [a, b, c] = await Promise.all(session.run([[up('a')], [up('b0'), slipped], [up('c')]]));
  t.equal(a, undefined);
  t.match(b, { code: 'INVALID_ARGUMENT', field: 'alias', op: slipped });
  t.equal(c, undefined);
  t.same(processes[0].lines.filter((l) => l !== 'nsm-group-end').map(named), ['a', 'c'], 'no line of the refused group was written');
  session.end();
});
