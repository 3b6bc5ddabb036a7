import fc from 'fast-check';
import t from 'tap';
import { IpBackend } from '../../../../forwarder/dataplane/ip/session.ts';
import { KernelError } from '../../../../forwarder/dataplane/kernel-error.ts';
import type { KernelOp } from '../../../../forwarder/dataplane/kernel-op.ts';
import { kernelRunner } from '../../../../forwarder/dataplane/netlink/runner.ts';
import { NetlinkBackend } from '../../../../forwarder/dataplane/netlink/session.ts';
import { NetlinkThread } from '../../../../forwarder/dataplane/netlink/thread.ts';
import {
  addAddress, addBridge, addGre, addVeth, addVxlan, deleteLink, moveLink, renameLink, replaceRoute, setBridgePort, setLink,
} from '../../../../forwarder/dataplane/ops.ts';
import { BatchRunner, type Backend, type Netns } from '../../../../forwarder/dataplane/runner.ts';
import { configureEnd, createPair, deleteEnd } from '../../../../forwarder/dataplane/veth.ts';
import { IPContext } from '../../../../proto/api.ts';
import { isNsmError } from '../../../../sdk/errors.ts';
import { helperPids } from '../../../../sdk/ip-command.ts';
import { silentLogger } from '../../../../sdk/log.ts';
import { addNetns, ip, links, ping, uniquePrefix, waitFor, whyNoKernelTests, type T } from '../../../fixtures/netns.ts';

const skip = whyNoKernelTests();
const netnsOf = (name: string): Netns => ({ path: `/run/netns/${name}`, key: name });

const ctx = IPContext.fromPartial({
  srcIpAddrs: ['10.61.0.2/32', 'fd61::2/128'],
  dstIpAddrs: ['10.61.0.1/32', 'fd61::1/128'],
  srcRoutes: [{ prefix: '192.168.61.0/24' }, { prefix: 'fd62::/64' }],
  dstRoutes: [{ prefix: '172.16.61.0/24', nextHop: '10.61.0.2' }],
});

/** Both ends of one connection, as kernel-veth programs them. */
async function connect(runner: BatchRunner, endpoint: Netns, client: Netns): Promise<void> {
  await runner.run(endpoint, [createPair('nsm-ep', 'nsm-1', client), ...configureEnd('nsm-ep', 'conn-1', 1400, ctx, 'endpoint', 'nl')]);
  await runner.run(client, configureEnd('nsm-1', 'conn-1', 1400, ctx, 'client', 'nl'));
}

type Row = Record<string, unknown>;
const pick = (o: Row | undefined, keys: readonly string[]) => (o ? Object.fromEntries(keys.filter((k) => k in o).map((k) => [k, o[k]])) : undefined);
const BRIDGE_KEYS = ['ageing_time', 'stp_state', 'vlan_filtering', 'mcast_snooping', 'forward_delay'];
const PORT_KEYS = ['state', 'isolated', 'learning', 'flood', 'mcast_flood', 'bcast_flood', 'neigh_suppress', 'hairpin', 'proxy_arp'];

/** What ip shows of a namespace, without what differs from one creation to the next (MACs the kernel picked, timers). */
function state(ns: string) {
  const ls = JSON.parse(ip(['-n', ns, '-j', '-d', 'link', 'show'])) as Array<Row & { linkinfo?: { info_kind?: string; info_data?: Row; info_slave_kind?: string; info_slave_data?: Row } }>;
  const addrs = JSON.parse(ip(['-n', ns, '-j', 'addr', 'show'])) as Array<{ ifname: string; addr_info: Array<{ local: string; prefixlen: number; scope: string }> }>;
  const routes = (family: string) => (JSON.parse(ip(['-n', ns, '-j', family, 'route', 'show'])) as Row[]).map(({ dst, gateway, dev, scope, protocol, flags }) => ({ dst, gateway, dev, scope, protocol, flags }));
  return {
    links: ls.map((l) => {
      const info = l.linkinfo;
      const kind = info?.info_kind;
      return {
        ifindex: l.ifindex, ifname: l.ifname, ifalias: l.ifalias, group: l.group, mtu: l.mtu, flags: l.flags, master: l.master, link_netnsid: l.link_netnsid,
        address: kind === 'bridge' ? l.address : undefined,
        kind,
        data: kind === 'bridge' ? pick(info?.info_data, BRIDGE_KEYS) : kind === 'vxlan' ? info?.info_data : undefined,
        port: info?.info_slave_kind === 'bridge' ? pick(info.info_slave_data, PORT_KEYS) : undefined,
      };
    }),
    addresses: addrs.map((l) => [l.ifname, l.addr_info.filter((a) => a.scope !== 'link').map((a) => `${a.local}/${a.prefixlen} ${a.scope}`)]),
    v4: routes('-4'),
    v6: routes('-6').filter((r) => !String(r.dst).startsWith('fe80')),
  };
}

/** The two runners under test: netlink (recording the namespaces it opens an `ip` session for) and `ip`. */
function runners(t: T) {
  const thread = new NetlinkThread();
  t.teardown(() => thread.close());
  const ipSessions: string[] = [];
  const ipBackend = new IpBackend();
  const recordingIp: Backend = { open: (netns) => (ipSessions.push(netns.path), ipBackend.open(netns)) };
  const netlink = new BatchRunner({ idleMs: 200, backend: new NetlinkBackend(thread, recordingIp) });
  t.teardown(() => netlink.close());
  const viaIp = new BatchRunner({ idleMs: 200, backend: new IpBackend() });
  t.teardown(() => viaIp.close());
  return { thread, netlink, viaIp, ipSessions };
}

const failure = (p: Promise<unknown>) => p.then(() => undefined, (err: unknown) => err as KernelError);

t.test('netlink runner against ip, in real namespaces', { skip, timeout: 90_000 }, async (t) => {
  const p = uniquePrefix('nl');
  const { thread, netlink, viaIp, ipSessions } = runners(t);

  await t.test('a connection over netlink leaves the kernel as ip leaves it, without an ip process', async (t) => {
    const [ie, ic, ne, nc] = ['ie', 'ic', 'ne', 'nc'].map((s) => addNetns(t, `${p}-${s}`));
    await connect(viaIp, netnsOf(ie), netnsOf(ic));
    await connect(netlink, netnsOf(ne), netnsOf(nc));
    // Ops of shapes the forwarder does not use today.
    const more = [
      replaceRoute({ name: 'nsm-ep', dst: '10.63.0.0/16' }), replaceRoute({ name: 'nsm-ep', dst: 'fd63::/64' }),
      replaceRoute({ name: 'nsm-ep', dst: 'fd64::/64', via: 'fd61::2' }), setLink({ name: 'nsm-ep', mtu: 1300 }),
    ];
    await viaIp.run(netnsOf(ie), more);
    await netlink.run(netnsOf(ne), more);
    t.same(state(ne), state(ie), 'endpoint namespace');
    t.same(state(nc), state(ic), 'client namespace');
    t.same(ipSessions, [], 'no ip process');
    // One packet can be lost on a machine this busy: a few tries, bounded.
    t.ok(await waitFor('a ping through the pair', () => ping(nc, '10.61.0.1'), 10_000), 'the pair carries traffic');
  });

  await t.test('bridges, ports and their flags, masters, MACs, moves and renames, VXLAN: the same kernel state either way', async (t) => {
    /** Run in namespace `br` (a bridge namespace) and `pod`, as the bridge and device-pool modes will. */
    const build = async (runner: BatchRunner, br: Netns, pod: Netns) => {
      await runner.run(br, [
        addBridge({ name: 'br0', ageingSeconds: 10, stp: false }),
        setLink({ name: 'br0', mac: '02:00:00:00:00:01', up: true }),
        addVeth({ name: 'p1', peer: 'nsm-1', peerNetns: pod.path }),
        addVeth({ name: 'p2', peer: 'nsm-2', peerNetns: pod.path }),
        addVeth({ name: 'p3', peer: 'p3-peer', peerNetns: br.path }),
        setLink({ name: 'p1', master: 'br0', up: true }),
        setLink({ name: 'p2', master: 'br0', mtu: 1400, up: true }),
        setLink({ name: 'p3', master: 'br0', up: true }),
      ]);
      // Port flags need an enslaved port, in a message of their own.
      await runner.run(br, [
        setBridgePort({ name: 'p1', isolated: true, learning: false, unicastFlood: false, multicastFlood: false, broadcastFlood: true, neighSuppress: true, hairpin: true }),
        setBridgePort({ name: 'p2', isolated: true }),
        setLink({ name: 'p3', master: null, up: false }),
        setLink({ name: 'p3-peer', mac: '02:00:00:00:00:33' }),
        addVeth({ name: 'ul0', peer: 'ul1', peerNetns: br.path }),
        addAddress({ name: 'ul0', address: '10.98.0.1/24' }),
        setLink({ name: 'ul0', up: true }),
        addVeth({ name: 'pool0', peer: 'pool1', peerNetns: br.path }),
        moveLink({ name: 'pool0', netns: pod.path, newName: 'nsm-dev' }),
        moveLink({ name: 'pool1', netns: pod.path }),
        addVeth({ name: 'dev9', peer: 'dev9-peer', peerNetns: br.path }),
        renameLink({ name: 'dev9', newName: 'radio9' }),
        setLink({ name: 'radio9', alias: 'renamed' }),
        addVxlan({ name: 'vx-pod', netns: pod.path, vni: 4242, local: '10.98.0.1', remote: '10.98.0.2', dstPort: 4789, underlay: 'ul0' }),
        addVxlan({ name: 'vx-here', vni: 4243, local: 'fd98::1', remote: 'fd98::2', dstPort: 4790 }),
      ]);
      await runner.run(pod, [setLink({ name: 'nsm-dev', alias: 'nsm:moved', up: true }), setLink({ name: 'vx-pod', mtu: 1450, up: true }), addAddress({ name: 'vx-pod', address: '10.97.0.1/24' })]);
    };
    const [ib, ip1, nb, np] = ['ib', 'ip', 'nb', 'np'].map((s) => addNetns(t, `${p}-${s}`));
    await build(viaIp, netnsOf(ib), netnsOf(ip1));
    await build(netlink, netnsOf(nb), netnsOf(np));
    const [ipBridge, nlBridge] = [state(ib), state(nb)];
    t.same(nlBridge, ipBridge, 'bridge namespace');
    t.same(state(np), state(ip1), 'pod namespace');
    t.same(ipSessions, [], 'no ip process');
    // What was asked for is there (so the comparison above compares something).
    const port = (name: string) => nlBridge.links.find((l) => l.ifname === name);
    t.match(port('br0'), { kind: 'bridge', address: '02:00:00:00:00:01', data: { ageing_time: 1000, stp_state: 0 } });
    t.match(port('p1'), { master: 'br0', port: { isolated: true, learning: false, flood: false, mcast_flood: false, bcast_flood: true, neigh_suppress: true, hairpin: true } });
    t.match(port('p2'), { master: 'br0', mtu: 1400, port: { isolated: true, learning: true } });
    t.equal(port('p3')?.master, undefined, 'released from the bridge');
    t.notOk((port('p3')?.flags as string[] | undefined)?.includes('UP'), 'and down');
    t.match(port('vx-here'), { kind: 'vxlan', data: { id: 4243, port: 4790, local6: 'fd98::1', remote6: 'fd98::2' } });
    t.notOk(port('pool0') ?? port('pool1'), 'moved away');
    t.match(port('radio9'), { ifalias: 'renamed' }, 'renamed, and the op after the rename finds it by its new name');
    t.notOk(port('dev9'), 'no longer under its old name');
    const pod = state(np).links;
    t.match(pod.find((l) => l.ifname === 'nsm-dev'), { ifalias: 'nsm:moved' }, 'moved and renamed');
    t.ok(pod.some((l) => l.ifname === 'pool1'), 'moved under its own name');
    t.match(pod.find((l) => l.ifname === 'vx-pod'), { kind: 'vxlan', mtu: 1450, data: { id: 4242, port: 4789, local: '10.98.0.1', remote: '10.98.0.2' } }, 'created straight in the pod');
  });

  await t.test('refusals: the kernel\'s words and a code, the same on both backends', async (t) => {
    const [ie, ic, ne, nc] = ['ie5', 'ic5', 'ne5', 'nc5'].map((s) => addNetns(t, `${p}-${s}`));
    await connect(viaIp, netnsOf(ie), netnsOf(ic));
    await connect(netlink, netnsOf(ne), netnsOf(nc));
    const cases: Array<[string, (ns: Netns, peer: Netns) => KernelOp[], string, RegExp]> = [
      ['an existing name', (ns, peer) => [createPair('nsm-ep', 'nsm-1', peer)], 'ALREADY_EXISTS', /^kernel refused add-veth nsm-ep peer nsm-1 into \/run\/netns\/\S+ in \/run\/netns\/\S+: File exists$/],
      ['a missing device', () => [addAddress({ name: 'nosuchdev', address: '10.62.0.1/32' })], 'NOT_FOUND', /^kernel refused add-address 10\.62\.0\.1\/32 on nosuchdev in \/run\/netns\/\S+: Cannot find device "nosuchdev"$/],
      ['a missing device to set', () => [setLink({ name: 'nosuchdev', up: true })], 'NOT_FOUND', /: Cannot find device "nosuchdev"$/],
      ['an address twice', () => [addAddress({ name: 'nsm-ep', address: '10.61.0.1/32' })], 'ALREADY_EXISTS', /^kernel refused add-address 10\.61\.0\.1\/32 on nsm-ep in \S+: ipv4: Address already assigned/],
      ['port flags on a link in no bridge', () => [setBridgePort({ name: 'nsm-ep', isolated: true })], 'FAILED_PRECONDITION', /: Operation not supported$/],
      ['a VNI used twice', () => [1, 2].map((i) => addVxlan({ name: `vx${i}`, vni: 77, local: '10.98.0.1', remote: '10.98.0.2', dstPort: 4789 })), 'ALREADY_EXISTS', /^kernel refused add-vxlan vx2 vni 77 .*: A VXLAN device with the specified VNI already exists/],
    ];
    for (const [what, ops, code, words] of cases) {
      const viaIpErr = await failure(viaIp.run(netnsOf(ie), ops(netnsOf(ie), netnsOf(ic))));
      const viaNl = await failure(netlink.run(netnsOf(ne), ops(netnsOf(ne), netnsOf(nc))));
      for (const [backend, err] of [['ip', viaIpErr], ['netlink', viaNl]] as const) {
        t.ok(err instanceof KernelError, `${what}, ${backend}: ${String(err)}`);
        t.equal(err?.code, code, `${what}, ${backend}: ${code}`);
        t.match(err?.message, words, `${what}, ${backend}: the op and the kernel's words`);
      }
    }
    // With the kernel's extended message, netlink adds the errno's words to it; ip prints the message alone.
    const hostBits = [replaceRoute({ name: 'nsm-ep', dst: '10.62.0.1/24' })];
    t.match((await failure(netlink.run(netnsOf(ne), hostBits)))?.message, /: Invalid prefix for given prefix length \(Invalid argument\)$/);
    t.match((await failure(viaIp.run(netnsOf(ie), hostBits)))?.message, /: Invalid prefix for given prefix length\.$/);
    const peerGone = addVeth({ name: 'nsm-x', peer: 'nsm-y', peerNetns: `/run/netns/${p}-never` });
    t.match(await failure(netlink.run(netnsOf(ne), [peerGone])), { code: 'NOT_FOUND', message: new RegExp(`Invalid "netns" value "/run/netns/${p}-never"`) });
    t.match(await failure(viaIp.run(netnsOf(ie), [peerGone])), { code: 'INTERNAL', message: /died running this call .*Invalid "netns" value/ }, 'ip exits on it');
    await viaIp.run(netnsOf(ie), [setLink({ name: 'nsm-ep', alias: 'after-exit' })]);
    t.equal(links(ie).find((l) => l.ifname === 'nsm-ep')?.ifalias, 'after-exit', 'the next call runs in a new ip process');
    t.same(ipSessions, [], 'netlink opened no ip process');
  });

  await t.test('a refused op fails its call; the ops after it still run, as with ip -force', async (t) => {
    const [e, c] = ['e2', 'c2'].map((s) => addNetns(t, `${p}-${s}`));
    for (const [runner, ns] of [[viaIp, `${e}-ip`], [netlink, `${e}-nl`]] as const) {
      const [ep, cl] = [addNetns(t, ns), addNetns(t, `${ns}c`)];
      await connect(runner, netnsOf(ep), netnsOf(cl));
      const again = await failure(runner.run(netnsOf(ep), [createPair('nsm-ep', 'nsm-1', netnsOf(cl)), setLink({ name: 'nsm-ep', alias: 'after-failure' })]));
      t.ok(again instanceof KernelError && isNsmError(again, 'ALREADY_EXISTS'), 'an existing name is ALREADY_EXISTS');
      t.equal(links(ep).find((l) => l.ifname === 'nsm-ep')?.ifalias, 'after-failure', 'the op after the refused one ran');
    }
    t.ok(e && c);
  });

  await t.test('a hostile op, then a good one in the same namespace: the good one succeeds, and nothing lands elsewhere', async (t) => {
    const canary = addNetns(t, `${p}-canary`);
    for (const [name, runner] of [['ip', viaIp], ['netlink', netlink]] as const) {
      const ns = addNetns(t, `${p}-h${name}`);
      const hostile = [
        { op: 'add-veth', name: `k1 netns /run/netns/${canary} #`, peer: 'x', peerNetns: `/run/netns/${ns}` },
        { op: 'add-veth', name: 'a%d', peer: 'b%d', peerNetns: `/run/netns/${ns}` },
        { op: 'add-veth', name: 'h1', peer: 'h2', peerNetns: `/run/netns/${ns}`, extra: 'x' },
        { op: 'set-link', name: 'lo', alias: 'conn"1' },
        { op: 'set-link', name: 'lo\tx', up: true },
        { op: 'set-link', name: 'lo', alias: 'a\nlink add name leak type veth peer name leak2' },
      ] as KernelOp[];
      const results = await Promise.all([...hostile.map((op) => failure(runner.run(netnsOf(ns), [op]))), failure(runner.run(netnsOf(ns), [addVeth({ name: 'good', peer: 'good2', peerNetns: `/run/netns/${ns}` }), setLink({ name: 'good', up: true })]))]);
      t.ok(results.slice(0, -1).every((e) => isNsmError(e, 'INVALID_ARGUMENT')), `${name}: every hostile op is INVALID_ARGUMENT`);
      t.equal(results.at(-1), undefined, `${name}: the good call succeeded`);
      t.same(links(ns).map((l) => l.ifname).sort(), ['good', 'good2', 'lo'], `${name}: only what the good call made`);
      t.same(links(canary).map((l) => l.ifname), ['lo'], `${name}: nothing in the canary namespace`);
      t.notOk(links(ns).find((l) => l.ifname === 'lo')?.ifalias, `${name}: no alias was set`);
    }
  });

  await t.test('the ip session refuses a value no batch line may carry even when no check ran before it', async (t) => {
    const ns = addNetns(t, `${p}-s`);
    const session = new IpBackend().open(netnsOf(ns));
    t.teardown(() => session.end());
    const slipped = { op: 'set-link', name: 'lo', alias: "it's a 'quote" } as KernelOp;
    const [a, b] = await Promise.all(session.run([[slipped], [setLink({ name: 'lo', alias: 'fine', up: true })]]));
    t.match(a, { code: 'INVALID_ARGUMENT', field: 'alias' });
    t.equal(b, undefined);
    t.equal(links(ns).find((l) => l.ifname === 'lo')?.ifalias, 'fine', 'the same process ran the next group');
  });

  await t.test('property: any alias the rules take reads back the same, through either backend', async (t) => {
    const ns = { ip: addNetns(t, `${p}-aip`), netlink: addNetns(t, `${p}-anl`) };
    const unit = fc.oneof(fc.constantFrom('a', 'Z', '9', ':', '-', '_', '.', '/', '%', '$', '@', 'é', '漢', '🙂', ' ', '"', '#', '\\', '\t'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }));
    const samples = fc.sample(fc.string({ unit, minLength: 1, maxLength: 30 }), { numRuns: 120, seed: 2301 });
    let taken = 0;
    for (const alias of samples) {
      let op: KernelOp;
      try {
        op = setLink({ name: 'lo', alias });
      } catch (err) {
        if (isNsmError(err, 'INVALID_ARGUMENT')) continue;
        throw err;
      }
      taken++;
      await viaIp.run(netnsOf(ns.ip), [op]);
      await netlink.run(netnsOf(ns.netlink), [op]);
      for (const [backend, name] of Object.entries(ns)) {
        const got = links(name).find((l) => l.ifname === 'lo')?.ifalias;
        if (got !== alias) t.fail(`${backend}: alias ${JSON.stringify(alias)} read back as ${JSON.stringify(got)}`);
      }
    }
    t.ok(taken > 30, `${taken} of ${samples.length} aliases taken and read back`);
  });

  await t.test('a namespace that cannot be entered fails its calls, naming it', async (t) => {
    const err = await failure(netlink.run(netnsOf(`${p}-never`), [setLink({ name: 'lo', up: true })]));
    t.ok(isNsmError(err, 'INTERNAL'));
    t.match(String(err?.message), new RegExp(`cannot program /run/netns/${p}-never: .*no such file`));
  });

  await t.test('deletions and ops netlink does not carry go to an ip process of the namespace', async (t) => {
    const [e, c] = ['e3', 'c3'].map((s) => addNetns(t, `${p}-${s}`));
    await connect(netlink, netnsOf(e), netnsOf(c));
    t.same(ipSessions, []);
    // A call with an op netlink does not carry goes whole through ip (this kernel may lack GRE: ip -force goes on).
    const gre = await failure(netlink.run(netnsOf(c), [addGre({ kind: 'gretap', name: 'gt0', local: '10.98.0.1', remote: '10.98.0.2', key: 5 }), setLink({ name: 'lo', alias: 'through-ip' })]));
    t.same(ipSessions, [`/run/netns/${c}`], 'GRE: the whole call through ip');
    if (gre) t.match(gre.message, /^kernel refused add-gre gt0 gretap key 5/, `this kernel: ${gre.message}`);
    else t.ok(links(c).some((l) => l.ifname === 'gt0'), 'the GRE device exists');
    t.equal(links(c).find((l) => l.ifname === 'lo')?.ifalias, 'through-ip', 'the op after it ran through the same ip process');
    const d = deleteEnd('nsm-1');
    await netlink.run(netnsOf(c), d.ops, { finally: d.finally });
    t.notOk(links(c).some((l) => l.ifname === 'nsm-1'), 'client end gone');
    t.notOk(links(e).some((l) => l.ifname === 'nsm-ep'), 'endpoint end gone with it');
    await netlink.run(netnsOf(c), [addVeth({ name: 'gone1', peer: 'gone2', peerNetns: `/run/netns/${c}` })]);
    await netlink.run(netnsOf(c), [deleteLink('gone1')]);
    t.notOk(links(c).some((l) => l.ifname.startsWith('gone')), 'deleted one by name');
    t.same(ipSessions, [`/run/netns/${c}`], 'the deletes used the same ip process');
  });

  await t.test('a thread that dies fails the call it was in; the next call starts a new thread', async (t) => {
    const e = addNetns(t, `${p}-e4`);
    // Long enough (tens of milliseconds) that the thread is still in it when it is stopped.
    const ops = Array.from({ length: 500 }, (_, i) => addAddress({ name: 'lo', address: `10.64.${i >> 8}.${i & 255}/32` }));
    const cut = failure(netlink.run(netnsOf(e), ops));
    for (let turn = 0; turn < 1000 && thread.pending === 0; turn++) await new Promise(setImmediate);
    t.equal(thread.pending, 1, 'the call is with the thread');
    await thread.close();
    const err = await cut;
    t.ok(isNsmError(err, 'INTERNAL'), String(err));
    t.match(String(err), /died running this call \(add-address 10\.64\.0\.0\/32 on lo and 499 more\): the netlink thread was stopped/);
    await netlink.run(netnsOf(e), [setLink({ name: 'lo', up: true })]);
    t.ok(links(e).find((l) => l.ifname === 'lo')?.flags?.includes('UP'), 'a new thread serves the namespace');
  });
});

t.test('the forwarder\'s runner programs veth connections without starting processes', { skip, timeout: 30_000 }, async (t) => {
  const p = uniquePrefix('nk');
  const [e, c] = ['e', 'c'].map((s) => addNetns(t, `${p}-${s}`));
  const runner = await kernelRunner(silentLogger());
  t.teardown(() => runner.close());
  const before = runner.sessions;
  const helpers = helperPids.size;
  await connect(runner, netnsOf(e), netnsOf(c));
  t.ok(await waitFor('a ping through the pair', () => ping(c, '10.61.0.1'), 10_000), 'the pair carries traffic');
  t.equal(helperPids.size, helpers, 'no ip helper started');
  t.equal(runner.sessions - before, 2, 'two namespace sessions');
});
