import fc from 'fast-check';
import t from 'tap';
import { IPContext } from '../../../../proto/api.ts';
import { parseIpLine } from '../../../../forwarder/dataplane/netlink/ip-lines.ts';
import { createTunnelCommand } from '../../../../forwarder/dataplane/tunnel.ts';
import { configureEndCommands, createPairCommand, deleteEnd } from '../../../../forwarder/dataplane/veth.ts';
import { kernelMechanism, MechanismType, Keys } from '../../../../proto/api.ts';

t.test('the lines of a veth connection read as netlink operations', async (t) => {
  t.same(parseIpLine(createPairCommand('nsm0123456789', 'nsm-1', { path: '/proc/42/ns/net', key: 'k' })), { op: 'add-veth', name: 'nsm0123456789', peer: 'nsm-1', peerNetns: '/proc/42/ns/net' });
  const ctx = IPContext.fromPartial({ srcIpAddrs: ['10.0.0.2/32', 'fd00::2/128'], dstIpAddrs: ['10.0.0.1/32', 'fd00::1/128'], srcRoutes: [{ prefix: '192.168.0.0/16' }, { prefix: '0.0.0.0/0', nextHop: '10.0.0.1' }] });
  const lines = configureEndCommands('nsm-1', 'conn-1', 1400, ctx, 'client', 'node-a');
  t.same(lines.map(parseIpLine), [
    { op: 'set', name: 'nsm-1', alias: 'nsm:node-a:conn-1', group: 7780, mtu: 1400, up: true },
    { op: 'address', name: 'nsm-1', address: [10, 0, 0, 2], prefixLen: 32 },
    { op: 'address', name: 'nsm-1', address: [0xfd, 0, ...Array(13).fill(0), 2], prefixLen: 128 },
    { op: 'route', name: 'nsm-1', dst: [10, 0, 0, 1], dstLen: 32, via: undefined, scopeLink: true },
    { op: 'route', name: 'nsm-1', dst: [0xfd, 0, ...Array(13).fill(0), 1], dstLen: 128, via: undefined, scopeLink: true },
    { op: 'route', name: 'nsm-1', dst: [192, 168, 0, 0], dstLen: 16, via: [10, 0, 0, 1], scopeLink: false },
    { op: 'route', name: 'nsm-1', dst: [0, 0, 0, 0], dstLen: 0, via: [10, 0, 0, 1], scopeLink: false },
  ]);
  const del = deleteEnd('nsm-1');
  t.same([...del.commands, ...del.finally].map(parseIpLine), [{ op: 'set', name: 'nsm-1', group: 7781 }, { op: 'delete-group', group: 7781 }]);
});

t.test('any other line is left to ip, which has its own words for what is wrong with it', async (t) => {
  const vxlan = createTunnelCommand(
    { ...kernelMechanism(), type: MechanismType.VXLAN, parameters: { [Keys.vni]: '5', [Keys.dstPort]: '4789' } },
    'ETHERNET',
    { ifname: 'nsm-1', netns: { path: '/proc/1/ns/net', key: 'k' }, local: '10.0.0.1', remote: '10.0.0.2', underlayIf: 'eth0' },
  );
  for (const line of [
    vxlan,
    'link add a type veth peer name b', // peer in the same namespace
    'link add a type veth peer name b netns relative/path',
    'link add a-name-longer-than-15 type veth peer name b netns /proc/1/ns/net',
    'link set dev a up extra',
    'link set dev a mtu big',
    'link set dev a alias x alias y',
    'link set dev a down',
    'link set dev a alias "nsm:x"', // ip takes the quotes away
    "link set dev a alias it's",
    'link set dev a alias a\\b',
    'link set dev a alias x#y',
    'link set a up', // without `dev`
    'link set dev a  up', // two spaces
    'link del dev a',
    'link del group -1',
    'address add 10.0.0.1 dev a', // no prefix length: ip's own default
    'address add 10.0.0.1/33 dev a',
    'address add fe80::1%eth0/64 dev a',
    'address add 999.0.0.1/32 dev a',
    'address add 10.0.0.1/32 dev a label x',
    'route replace 10.0.0.0/8 via fd00::1 dev a', // families differ
    'route replace fd01::/64 via fe80::1%eth0 dev a',
    'route replace 10.0.0.0/8 dev a scope host',
    'route replace 10.0.0.0/8 dev a metric 5',
    'route add 10.0.0.0/8 dev a',
    'address del 10.0.0.1/32 dev a',
    '',
  ]) t.equal(parseIpLine(line), undefined, line);
});

t.test('every line configureEndCommands writes reads as operations, for any addresses and routes', async () => {
  const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((b) => b.join('.'));
  const v6 = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((g) => g.map((x) => x.toString(16)).join(':'));
  const cidr = fc.oneof(fc.tuple(v4, fc.integer({ min: 1, max: 32 })), fc.tuple(v6, fc.integer({ min: 1, max: 128 }))).map(([a, l]) => `${a}/${l}`);
  const route = fc.record({ prefix: cidr, nextHop: fc.oneof(fc.constant(''), v4, v6) });
  fc.assert(
    fc.property(fc.array(cidr, { maxLength: 3 }), fc.array(cidr, { maxLength: 3 }), fc.array(route, { maxLength: 3 }), fc.integer({ min: 0, max: 9000 }), (own, peer, routes, mtu) => {
      const ctx = IPContext.fromPartial({ srcIpAddrs: own, dstIpAddrs: peer, srcRoutes: routes });
      for (const line of configureEndCommands('nsm-1', 'c', mtu, ctx, 'client')) {
        const op = parseIpLine(line);
        // A next hop of the other family is ip's to refuse; everything else must be ours.
        const via = /^route replace (\S+) via (\S+) /.exec(line);
        const mixed = via !== null && via[1].includes(':') !== via[2].includes(':');
        if ((op === undefined) !== mixed) throw new Error(`${mixed ? 'taken from ip' : 'left to ip'}: ${line}`);
      }
    }),
  );
});
