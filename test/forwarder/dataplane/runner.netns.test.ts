import { statSync } from 'node:fs';
import t from 'tap';
import { IpBackend } from '../../../forwarder/dataplane/ip/session.ts';
import { KernelError } from '../../../forwarder/dataplane/kernel-error.ts';
import { NetnsResolver } from '../../../forwarder/dataplane/netns-resolver.ts';
import { addAddress, addVeth, deleteGroup, setLink } from '../../../forwarder/dataplane/ops.ts';
import { BatchRunner, type Netns } from '../../../forwarder/dataplane/runner.ts';
import { isNsmError } from '../../../sdk/errors.ts';
import { helperPids } from '../../../sdk/ip-command.ts';
import { formatInodeUrl } from '../../../sdk/netns.ts';
import { addNetns, addresses, ip, links, uniquePrefix, waitFor, whyNoKernelTests } from '../../fixtures/netns.ts';

const skip = whyNoKernelTests();

const netnsOf = (name: string): Netns => ({ path: `/run/netns/${name}`, key: name });
const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

t.test('the ip runner in real namespaces, under concurrency', { skip, timeout: 60_000 }, async (t) => {
  const p = uniquePrefix('rn');
  const [a, b] = [addNetns(t, `${p}-a`), addNetns(t, `${p}-b`)];
  const backend = new IpBackend();
  const runner = new BatchRunner({ idleMs: 200, backend });
  t.teardown(() => runner.close());
  const A = netnsOf(a);
  const B = netnsOf(b);
  const N = 40;

  await t.test('many calls at once: a failing command fails only its caller, a fatal one only its own', async (t) => {
    const pair = (ns: Netns, i: number) => runner.run(ns, [
      addVeth({ name: `v${i}x`, peer: `v${i}y`, peerNetns: ns.path }),
      setLink({ name: `v${i}x`, up: true }),
      addAddress({ name: `v${i}x`, address: `10.77.${i}.1/32` }),
    ]);
    const calls: Array<Promise<void>> = [];
    for (let i = 0; i < N; i++) {
      calls.push(pair(A, i), pair(B, i));
      if (i === 10) calls.push(runner.run(A, [addAddress({ name: 'nosuchdev', address: '10.77.250.1/32' }), setLink({ name: `v${i}x`, alias: 'after-failure' })]));
      // ip exits on a netns file that does not exist.
      if (i === 20) calls.push(runner.run(A, [addVeth({ name: 'fatal-x', peer: 'fatal-y', peerNetns: `/run/netns/${p}-never` })]));
    }
    const results = await Promise.allSettled(calls);
    const rejected = results.flatMap((r, i) => (r.status === 'rejected' ? [[i, r.reason] as const] : []));
    t.equal(rejected.length, 2, `two calls failed: ${rejected.map(([, e]) => String(e)).join(' | ')}`);
    const [missing, fatal] = rejected.map(([, e]) => e);
    t.ok(missing instanceof KernelError, 'a refused command is a KernelError');
    t.match(missing.message, new RegExp(`kernel refused add-address 10\\.77\\.250\\.1/32 on nosuchdev in /run/netns/${a}: Cannot find device "nosuchdev"`));
    t.ok(isNsmError(missing, 'NOT_FOUND'));
    t.ok(isNsmError(fatal, 'INTERNAL'));
    t.match(fatal.message, /died running this call \(add-veth fatal-x .*Invalid "netns" value/);
    for (const ns of [a, b]) {
      t.equal(links(ns).filter((l) => /^v\d+[xy]$/.test(l.ifname)).length, 2 * N, `every pair exists in ${ns}`);
    }
    t.same(addresses(a, 'v39x'), ['10.77.39.1/32'], 'calls after the fatal one ran in a new process');
    t.equal(links(a).find((l) => l.ifname === 'v10x')?.ifalias, 'after-failure', 'a call goes on after its failed line');
    t.ok(backend.processes >= 3 && backend.processes <= 4, `one process per namespace, one more after the fatal line (${backend.processes})`);
    t.equal(runner.sessions, 2, 'one session per namespace');
  });

  await t.test('Closes share one bulk delete', async (t) => {
    const del = (ns: Netns, i: number) => runner.run(ns, [setLink({ name: `v${i}x`, group: 7781, up: false })], { finally: [deleteGroup(7781)] });
    const before = runner.writes;
    await Promise.all(Array.from({ length: N }, (_, i) => [del(A, i), del(B, i)]).flat());
    t.equal(links(a).filter((l) => l.ifname.startsWith('v')).length, 0, 'all pairs gone in a');
    t.equal(links(b).filter((l) => l.ifname.startsWith('v')).length, 0, 'all pairs gone in b');
    t.ok(runner.writes - before <= 8, `few writes for ${2 * N} closes (${runner.writes - before})`);
  });

  await t.test('a namespace that cannot be entered fails its calls at once, naming it', async (t) => {
    const gone: Netns = { path: `/run/netns/${p}-never`, key: `${p}-never` };
    const err = await runner.run(gone, [setLink({ name: 'lo', up: true })]).catch((e: unknown) => e);
    t.ok(isNsmError(err, 'INTERNAL'));
    t.match(String((err as Error).message), new RegExp(`cannot program /run/netns/${p}-never: .*nsenter`));
  });

  await t.test('a helper does not keep a deleted namespace resolvable, and ends when idle', async (t) => {
    const c = `${p}-c`;
    ip(['netns', 'add', c]);
    t.teardown(() => { ip(['netns', 'del', c]); });
    const s = statSync(`/run/netns/${c}`);
    const url = formatInodeUrl({ dev: s.dev, ino: s.ino });
    const resolver = new NetnsResolver();
    t.ok(await resolver.find(url), 'resolvable while ip netns holds it');
    await runner.run(netnsOf(c), [setLink({ name: 'lo', up: true })]);
    const helpers = [...helperPids];
    t.ok(helpers.length > 0 && helpers.every(alive), 'helpers are running');
    ip(['netns', 'del', c]);
    t.teardown(() => void ip(['netns', 'add', c])); // so the deletion above has something to delete
    t.equal(await new NetnsResolver().find(url), undefined, 'only our helper holds it: not resolvable');
    await waitFor('idle helpers to end', () => helpers.every((pid) => !alive(pid)), 5000);
    t.equal(helperPids.size, 0);
  });
});
