import t from 'tap';
import { helperPids, IpSession, type BatchSession } from '../../../../forwarder/dataplane/ip-session.ts';
import { kernelRunner } from '../../../../forwarder/dataplane/netlink/runner.ts';
import { NetlinkSession } from '../../../../forwarder/dataplane/netlink/session.ts';
import { NetlinkThread } from '../../../../forwarder/dataplane/netlink/thread.ts';
import { IpBatchRunner, KernelError, type Netns } from '../../../../forwarder/dataplane/runner.ts';
import { configureEndCommands, createPairCommand, deleteEnd } from '../../../../forwarder/dataplane/veth.ts';
import { IPContext } from '../../../../proto/api.ts';
import { isNsmError } from '../../../../sdk/errors.ts';
import { silentLogger } from '../../../../sdk/log.ts';
import { addNetns, ip, links, ping, uniquePrefix, whyNoKernelTests } from '../../../fixtures/netns.ts';

const skip = whyNoKernelTests();
const netnsOf = (name: string): Netns => ({ path: `/run/netns/${name}`, key: name });

const ctx = IPContext.fromPartial({
  srcIpAddrs: ['10.61.0.2/32', 'fd61::2/128'],
  dstIpAddrs: ['10.61.0.1/32', 'fd61::1/128'],
  srcRoutes: [{ prefix: '192.168.61.0/24' }, { prefix: 'fd62::/64' }],
  dstRoutes: [{ prefix: '172.16.61.0/24', nextHop: '10.61.0.2' }],
});

/** Both ends of one connection, as kernel-veth writes them. */
async function connect(runner: IpBatchRunner, endpoint: Netns, client: Netns): Promise<void> {
  await runner.run(endpoint, [createPairCommand('nsm-ep', 'nsm-1', client), ...configureEndCommands('nsm-ep', 'conn-1', 1400, ctx, 'endpoint', 'nl')]);
  await runner.run(client, configureEndCommands('nsm-1', 'conn-1', 1400, ctx, 'client', 'nl'));
}

/** What ip shows of a namespace, without what differs from one creation to the next (indexes, MACs). */
function state(ns: string) {
  const ls = JSON.parse(ip(['-n', ns, '-j', '-d', 'link', 'show'])) as Array<Record<string, unknown> & { linkinfo?: { info_kind?: string } }>;
  const addrs = JSON.parse(ip(['-n', ns, '-j', 'addr', 'show'])) as Array<{ ifname: string; addr_info: Array<{ local: string; prefixlen: number; scope: string }> }>;
  const routes = (family: string) => (JSON.parse(ip(['-n', ns, '-j', family, 'route', 'show'])) as Array<Record<string, unknown>>).map(({ dst, gateway, dev, scope, protocol, flags }) => ({ dst, gateway, dev, scope, protocol, flags }));
  return {
    links: ls.map((l) => ({ ifname: l.ifname, ifalias: l.ifalias, group: l.group, mtu: l.mtu, flags: l.flags, kind: l.linkinfo?.info_kind })),
    addresses: addrs.map((l) => [l.ifname, l.addr_info.filter((a) => a.scope !== 'link').map((a) => `${a.local}/${a.prefixlen} ${a.scope}`)]),
    v4: routes('-4'),
    v6: routes('-6').filter((r) => !String(r.dst).startsWith('fe80')),
  };
}

t.test('netlink runner against ip, in real namespaces', { skip, timeout: 60_000 }, async (t) => {
  const p = uniquePrefix('nl');
  const thread = new NetlinkThread();
  t.teardown(() => thread.close());
  const ipSessions: string[] = [];
  const runner = new IpBatchRunner({
    idleMs: 200,
    session: (path) => new NetlinkSession(path, thread, (q): BatchSession => (ipSessions.push(q), new IpSession(q))),
  });
  t.teardown(() => runner.close());
  const viaIp = new IpBatchRunner({ idleMs: 200 });
  t.teardown(() => viaIp.close());

  await t.test('a connection over netlink leaves the kernel as ip leaves it, without an ip process', async (t) => {
    const [ie, ic, ne, nc] = ['ie', 'ic', 'ne', 'nc'].map((s) => addNetns(t, `${p}-${s}`));
    await connect(viaIp, netnsOf(ie), netnsOf(ic));
    await connect(runner, netnsOf(ne), netnsOf(nc));
    // Lines of the shapes the forwarder does not write today, as ip reads them.
    const more = ['route replace 10.63.0.0/16 dev nsm-ep', 'route replace fd63::/64 dev nsm-ep', 'route replace fd64::/64 via fd61::2 dev nsm-ep', 'link set dev nsm-ep mtu 1300'];
    await viaIp.run(netnsOf(ie), more);
    await runner.run(netnsOf(ne), more);
    t.same(state(ne), state(ie), 'endpoint namespace');
    t.same(state(nc), state(ic), 'client namespace');
    t.same(ipSessions, [], 'no ip process');
    t.ok(ping(nc, '10.61.0.1'), 'the pair carries traffic');
  });

  await t.test('a refused line fails its call with the kernel\'s words; the lines after it still run, as with ip -force', async (t) => {
    const [e, c] = ['e2', 'c2'].map((s) => addNetns(t, `${p}-${s}`));
    await connect(runner, netnsOf(e), netnsOf(c));
    const again = await runner.run(netnsOf(e), [createPairCommand('nsm-ep', 'nsm-1', netnsOf(c)), 'link set dev nsm-ep alias after-failure']).catch((err: unknown) => err);
    t.ok(again instanceof KernelError && isNsmError(again, 'ALREADY_EXISTS'), 'an existing name is ALREADY_EXISTS');
    t.match(String(again), /kernel refused "ip link add nsm-ep type veth peer name nsm-1 netns .*": RTNETLINK answers: File exists/);
    t.equal(links(e).find((l) => l.ifname === 'nsm-ep')?.ifalias, 'after-failure', 'the line after the failed one ran');
    const missing = await runner.run(netnsOf(e), ['address add 10.62.0.1/32 dev nosuchdev']).catch((err: unknown) => err);
    t.match(String(missing), /kernel refused "ip address add 10\.62\.0\.1\/32 dev nosuchdev": Cannot find device "nosuchdev"/);
    const hostBits = await runner.run(netnsOf(e), ['route replace 10.62.0.1/24 dev nsm-ep']).catch((err: unknown) => err);
    t.match(String(hostBits), /Error: Invalid prefix for given prefix length \(Invalid argument\)/, 'the kernel\'s extended message');
    const peerGone = await runner.run(netnsOf(e), [`link add nsm-x type veth peer name nsm-y netns /run/netns/${p}-never`]).catch((err: unknown) => err);
    t.match(String(peerGone), new RegExp(`Invalid "netns" value "/run/netns/${p}-never"`));
    t.same(ipSessions, [], 'still no ip process');
  });

  await t.test('a namespace that cannot be entered fails its calls, naming it', async (t) => {
    const err = await runner.run(netnsOf(`${p}-never`), ['link set dev lo up']).catch((e: unknown) => e);
    t.ok(isNsmError(err, 'INTERNAL'));
    t.match(String((err as Error).message), new RegExp(`cannot program /run/netns/${p}-never: .*no such file`));
  });

  await t.test('bulk deletes and lines netlink does not carry go to an ip process of the namespace', async (t) => {
    const [e, c] = ['e3', 'c3'].map((s) => addNetns(t, `${p}-${s}`));
    await connect(runner, netnsOf(e), netnsOf(c));
    t.same(ipSessions, []);
    await runner.run(netnsOf(c), ['link add br-test type bridge', 'link set dev br-test up']);
    t.same(ipSessions, [`/run/netns/${c}`], 'a line of another shape: the whole call through ip');
    t.ok(links(c).some((l) => l.ifname === 'br-test'));
    const d = deleteEnd('nsm-1');
    await runner.run(netnsOf(c), d.commands, { finally: d.finally });
    t.notOk(links(c).some((l) => l.ifname === 'nsm-1'), 'client end gone');
    t.notOk(links(e).some((l) => l.ifname === 'nsm-ep'), 'endpoint end gone with it');
    t.same(ipSessions, [`/run/netns/${c}`], 'the delete used the same ip process');
  });

  await t.test('a thread that dies fails the call it was in; the next call starts a new thread', async (t) => {
    const e = addNetns(t, `${p}-e4`);
    // Long enough (tens of milliseconds) that the thread is still in it when it is stopped.
    const lines = Array.from({ length: 500 }, (_, i) => `address add 10.64.${i >> 8}.${i & 255}/32 dev lo`);
    const cut = runner.run(netnsOf(e), lines).catch((err: unknown) => err);
    for (let turn = 0; turn < 1000 && thread.pending === 0; turn++) await new Promise(setImmediate);
    t.equal(thread.pending, 1, 'the call is with the thread');
    await thread.close();
    const err = await cut;
    t.ok(isNsmError(err, 'INTERNAL'), String(err));
    t.match(String(err), /died running this call: the netlink thread exited/);
    await runner.run(netnsOf(e), ['link set dev lo up']);
    t.ok(links(e).find((l) => l.ifname === 'lo')?.flags?.includes('UP'), 'a new thread serves the namespace');
  });
});

t.test('the forwarder\'s runner programs veth connections without starting processes', { skip, timeout: 30_000 }, async (t) => {
  const p = uniquePrefix('nk');
  const [e, c] = ['e', 'c'].map((s) => addNetns(t, `${p}-${s}`));
  const runner = await kernelRunner(silentLogger());
  t.teardown(() => runner.close());
  const before = runner.spawned;
  const helpers = helperPids.size;
  await connect(runner, netnsOf(e), netnsOf(c));
  t.ok(ping(c, '10.61.0.1'));
  t.equal(helperPids.size, helpers, 'no ip helper started');
  t.equal(runner.spawned - before, 2, 'two namespace sessions');
});
