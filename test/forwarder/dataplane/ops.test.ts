import fc from 'fast-check';
import t from 'tap';
import { KernelError } from '../../../forwarder/dataplane/kernel-error.ts';
import type { KernelOp } from '../../../forwarder/dataplane/kernel-op.ts';
import { OVER_NETLINK } from '../../../forwarder/dataplane/netlink/protocol.ts';
import { addAddress, addGre, addVeth, addVxlan, checkOp, deleteGroup, moveLink, renameLink, replaceRoute, setBridgePort, setLink } from '../../../forwarder/dataplane/ops.ts';
import { configureEnd, createPair, deleteEnd } from '../../../forwarder/dataplane/veth.ts';
import { IPContext } from '../../../proto/api.ts';

const refusal = (f: () => unknown): KernelError => {
  try {
    f();
  } catch (err) {
    if (err instanceof KernelError) return err;
    throw err;
  }
  throw new Error('not refused');
};

t.test('interface names follow Linux\'s rules, in every field that names an interface', async (t) => {
  for (const name of ['eth0', 'nsm0123456789ab', 'a', 'v-1.2_x', 'ünï']) t.ok(setLink({ name, up: true }), name);
  for (const [name, rule] of [
    ['', /is empty/],
    ['a-name-longer-than-15', /longer than 15 bytes/],
    ['ünïcödé-nämé', /longer than 15 bytes/], // 15 characters, more bytes
    ['.', /not a name Linux allows/],
    ['..', /not a name Linux allows/],
    ['a/b', /"\/" or ":"/],
    ['eth0:1', /"\/" or ":"/],
    ['k1 netns x', /whitespace/],
    ['a\tb', /whitespace/],
    ['a%d', /makes the kernel pick the name itself/],
    ['a"b', /a quote, "#"/],
    ["it's", /a quote, "#"/],
    ['x#y', /a quote, "#"/],
    ['a\\b', /backslash/],
    ['a\u0001', /control character/],
  ] as const) {
    for (const make of [
      () => setLink({ name }),
      () => addVeth({ name: 'ok', peer: name, peerNetns: '/run/netns/x' }),
      () => setLink({ name: 'ok', master: name }),
      () => moveLink({ name: 'ok', netns: '/run/netns/x', newName: name }),
      () => renameLink({ name: 'ok', newName: name }),
      () => addVxlan({ name: 'ok', vni: 1, local: '10.0.0.1', remote: '10.0.0.2', dstPort: 4789, underlay: name }),
    ]) {
      const err = refusal(make);
      t.equal(err.code, 'INVALID_ARGUMENT');
      t.match(err.message, rule, `${JSON.stringify(name)}: ${err.message}`);
      t.match(err.message, new RegExp(`^invalid ${err.op.op}: ${err.field} `), 'names the op and the field');
    }
  }
});

t.test('a malformed field is refused, naming the op and the field', async (t) => {
  const cases: Array<[KernelOp, string, RegExp]> = [
    [{ op: 'add-veth', name: 'a', peer: 'b' } as unknown as KernelOp, 'peerNetns', /missing is not a string/],
    [{ op: 'add-veth', name: 'a', peer: 'b', peerNetns: 'relative/path' }, 'peerNetns', /not an absolute path/],
    [{ op: 'add-veth', name: 'a', peer: 'b', peerNetns: '/run/netns/x y' }, 'peerNetns', /whitespace/],
    [{ op: 'set-link', name: 'a', up: true, extra: 1 } as unknown as KernelOp, 'extra', /is not a field of set-link/],
    [{ op: 'set-link', name: 'a', mtu: 'big' } as unknown as KernelOp, 'mtu', /not a whole number/],
    [{ op: 'set-link', name: 'a', mtu: 0 }, 'mtu', /not a whole number from 1/],
    [{ op: 'set-link', name: 'a', alias: '"nsm:x"' }, 'alias', /a quote/],
    [{ op: 'set-link', name: 'a', alias: "it's" }, 'alias', /a quote/],
    [{ op: 'set-link', name: 'a', alias: 'a\\b' }, 'alias', /backslash/],
    [{ op: 'set-link', name: 'a', alias: 'x#y' }, 'alias', /"#"/],
    [{ op: 'set-link', name: 'a', alias: 'x y' }, 'alias', /whitespace/],
    [{ op: 'set-link', name: 'a', alias: '' }, 'alias', /is empty/],
    [{ op: 'set-link', name: 'a', alias: 'x'.repeat(256) }, 'alias', /longer than 255 bytes/],
    [{ op: 'set-link', name: 'a', up: 'yes' } as unknown as KernelOp, 'up', /not true or false/],
    [{ op: 'set-link', name: 'a', mac: '02:00:00:00:00' }, 'mac', /not a MAC address/],
    [{ op: 'delete-group', group: -1 }, 'group', /not a whole number from 0/],
    [{ op: 'delete-group', group: 2 ** 32 }, 'group', /not a whole number/],
    [{ op: 'add-address', name: 'a', address: '10.0.0.1' }, 'address', /address\/length/],
    [{ op: 'add-address', name: 'a', address: '10.0.0.1/33' }, 'address', /prefix length over 32/],
    [{ op: 'add-address', name: 'a', address: '10.0.0.1/032' }, 'address', /address\/length/],
    [{ op: 'add-address', name: 'a', address: 'fe80::1%eth0/64' }, 'address', /address\/length/],
    [{ op: 'add-address', name: 'a', address: '999.0.0.1/32' }, 'address', /address\/length/],
    [{ op: 'add-address', name: 'a', address: '10.0.0.1/32', label: 'x' } as unknown as KernelOp, 'label', /not a field/],
    [{ op: 'replace-route', name: 'a', dst: '10.0.0.0/8', via: 'fd00::1' }, 'via', /not of the family of dst/],
    [{ op: 'replace-route', name: 'a', dst: 'fd01::/64', via: 'fe80::1%eth0' }, 'via', /not an IPv4 or IPv6 address/],
    [{ op: 'replace-route', name: 'a', dst: '10.0.0.0/8', metric: 5 } as unknown as KernelOp, 'metric', /not a field/],
    [{ op: 'add-vxlan', name: 'v', vni: 2 ** 24, local: '10.0.0.1', remote: '10.0.0.2', dstPort: 4789 }, 'vni', /from 0 to 16777215/],
    [{ op: 'add-vxlan', name: 'v', vni: 5, local: '10.0.0.1', remote: 'fd00::2', dstPort: 4789 }, 'remote', /family of local/],
    [{ op: 'add-vxlan', name: 'v', vni: 5, local: '10.0.0.1', remote: '10.0.0.2', dstPort: 0 }, 'dstPort', /from 1 to 65535/],
    [{ op: 'add-gre', kind: 'ipip', name: 'g', local: '10.0.0.1', remote: '10.0.0.2', key: 1 } as unknown as KernelOp, 'kind', /not gre or gretap/],
    [{ op: 'link del dev a' } as unknown as KernelOp, 'op', /is not a kernel operation/],
  ];
  for (const [op, field, rule] of cases) {
    const err = refusal(() => checkOp(op));
    t.equal(err.field, field, `${JSON.stringify(op)}: ${err.message}`);
    t.match(err.message, rule);
    t.equal(err.code, 'INVALID_ARGUMENT');
  }
  t.match(refusal(() => checkOp(null as unknown as KernelOp)).message, /is not a kernel operation/);
});

t.test('the ops of a veth connection, and which of them go over netlink', async (t) => {
  t.same(createPair('nsm0123456789', 'nsm-1', { path: '/proc/42/ns/net', key: 'k' }), { op: 'add-veth', name: 'nsm0123456789', peer: 'nsm-1', peerNetns: '/proc/42/ns/net' });
  const ctx = IPContext.fromPartial({ srcIpAddrs: ['10.0.0.2/32', 'fd00::2/128'], dstIpAddrs: ['10.0.0.1/32', 'fd00::1/128'], srcRoutes: [{ prefix: '192.168.0.0/16' }, { prefix: '0.0.0.0/0', nextHop: '10.0.0.1' }] });
  const ops = configureEnd('nsm-1', 'conn-1', 1400, ctx, 'client', 'node-a');
  t.same(ops, [
    { op: 'set-link', name: 'nsm-1', alias: 'nsm:node-a:conn-1', group: 7780, mtu: 1400, up: true },
    { op: 'add-address', name: 'nsm-1', address: '10.0.0.2/32' },
    { op: 'add-address', name: 'nsm-1', address: 'fd00::2/128' },
    { op: 'replace-route', name: 'nsm-1', dst: '10.0.0.1/32', scopeLink: true },
    { op: 'replace-route', name: 'nsm-1', dst: 'fd00::1/128', scopeLink: true },
    { op: 'replace-route', name: 'nsm-1', dst: '192.168.0.0/16', via: '10.0.0.1' },
    { op: 'replace-route', name: 'nsm-1', dst: '0.0.0.0/0', via: '10.0.0.1' },
  ]);
  t.ok(ops.every((op) => OVER_NETLINK.has(op.op)), 'all of them over netlink');
  const del = deleteEnd('nsm-1');
  t.same([...del.ops, ...del.finally], [{ op: 'set-link', name: 'nsm-1', group: 7781 }, { op: 'delete-group', group: 7781 }]);
  t.notOk(OVER_NETLINK.has('delete-group'), 'the bulk delete goes to ip');
  t.notOk(OVER_NETLINK.has('delete-link'), 'a deletion goes to ip');
  t.notOk(OVER_NETLINK.has('add-gre'), 'GRE goes to ip');
  t.ok(['add-bridge', 'set-bridge-port', 'move-link', 'rename-link', 'add-vxlan'].every((o) => OVER_NETLINK.has(o as KernelOp['op'])), 'bridges, ports, moves, renames and VXLAN over netlink');
  t.ok(setBridgePort({ name: 'p', isolated: true, learning: false }) && addGre({ kind: 'gretap', name: 'g', local: 'fd00::1', remote: 'fd00::2', key: 7 }) && deleteGroup(0));
});

t.test('configureEnd builds checked ops for any addresses and routes, or names the field it cannot take', async () => {
  const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((b) => b.join('.'));
  const v6 = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((g) => g.map((x) => x.toString(16)).join(':'));
  const cidr = fc.oneof(fc.tuple(v4, fc.integer({ min: 1, max: 32 })), fc.tuple(v6, fc.integer({ min: 1, max: 128 }))).map(([a, l]) => `${a}/${l}`);
  const route = fc.record({ prefix: cidr, nextHop: fc.oneof(fc.constant(''), v4, v6) });
  fc.assert(
    fc.property(fc.array(cidr, { maxLength: 3 }), fc.array(cidr, { maxLength: 3 }), fc.array(route, { maxLength: 3 }), fc.integer({ min: 0, max: 9000 }), (own, peer, routes, mtu) => {
      const ctx = IPContext.fromPartial({ srcIpAddrs: own, dstIpAddrs: peer, srcRoutes: routes });
      // A next hop of the other family is the one thing refused.
      const mixed = routes.some((r) => r.nextHop !== '' && r.nextHop.includes(':') !== r.prefix.includes(':'));
      let ops: KernelOp[];
      try {
        ops = configureEnd('nsm-1', 'c', mtu, ctx, 'client');
      } catch (err) {
        if (mixed && err instanceof KernelError && err.field === 'via') return;
        throw err;
      }
      if (ops.some((op) => op.op === 'replace-route' && op.via !== undefined && op.via.includes(':') !== op.dst.includes(':'))) throw new Error('a mixed route was built');
      for (const op of ops) {
        checkOp(op);
        if (!OVER_NETLINK.has(op.op)) throw new Error(`left to ip: ${JSON.stringify(op)}`);
      }
    }),
  );
});

t.test('replaceRoute and addAddress keep what they are given', async (t) => {
  t.same(replaceRoute({ name: 'x', dst: 'fd63::/64' }), { op: 'replace-route', name: 'x', dst: 'fd63::/64' });
  t.same(addAddress({ name: 'x', address: '::/0' }), { op: 'add-address', name: 'x', address: '::/0' });
});
