import t from 'tap';
import { IPContext } from '../../../proto/api.ts';
import { ipContextOps } from '../../../forwarder/dataplane/ipcontext.ts';
import { ipBatchLine } from '../../../forwarder/dataplane/ip/format.ts';
import { addAddress, replaceRoute } from '../../../forwarder/dataplane/ops.ts';

const p2p = IPContext.fromPartial({ srcIpAddrs: ['10.0.0.2/32'], dstIpAddrs: ['10.0.0.1/32'], srcRoutes: [{ prefix: '10.0.0.1/32' }, { prefix: '192.168.0.0/16' }], dstRoutes: [{ prefix: '10.0.0.2/32' }] });

t.test('client end: own addresses, on-link route to the peer, other routes via the peer', async (t) => {
  const ops = ipContextOps('nsm-1', p2p, 'client');
  t.same(ops, [
    addAddress({ name: 'nsm-1', address: '10.0.0.2/32' }),
    replaceRoute({ name: 'nsm-1', dst: '10.0.0.1/32', scopeLink: true }),
    replaceRoute({ name: 'nsm-1', dst: '192.168.0.0/16', via: '10.0.0.1' }),
  ]);
  t.same(ops.map(ipBatchLine), [
    'address add 10.0.0.2/32 dev nsm-1',
    'route replace 10.0.0.1/32 dev nsm-1 scope link',
    'route replace 192.168.0.0/16 via 10.0.0.1 dev nsm-1',
  ]);
});

t.test('endpoint end uses dst addresses and routes', async (t) => {
  t.same(ipContextOps('e', p2p, 'endpoint').map(ipBatchLine), ['address add 10.0.0.1/32 dev e', 'route replace 10.0.0.2/32 dev e scope link']);
});

t.test('a peer inside the own prefix needs no route; an explicit next hop is kept', async (t) => {
  const ctx = IPContext.fromPartial({ srcIpAddrs: ['10.1.0.1/31'], dstIpAddrs: ['10.1.0.0/31'], srcRoutes: [{ prefix: '0.0.0.0/0', nextHop: '10.1.0.0' }] });
  t.same(ipContextOps('x', ctx, 'client').map(ipBatchLine), ['address add 10.1.0.1/31 dev x', 'route replace 0.0.0.0/0 via 10.1.0.0 dev x']);
  t.same(ipContextOps('x', undefined, 'client'), []);
});

t.test('an IPv6 peer inside the own prefix needs no on-link route', async (t) => {
  const ctx = IPContext.fromPartial({ srcIpAddrs: ['fd00::2/127'], dstIpAddrs: ['fd00::3/127'], srcRoutes: [{ prefix: 'fd01::/64' }] });
  t.same(ipContextOps('x', ctx, 'client').map(ipBatchLine), ['address add fd00::2/127 dev x', 'route replace fd01::/64 via fd00::3 dev x']);
});

t.test('an address or route without a length is a host one, as ip reads it', async (t) => {
  const ctx = IPContext.fromPartial({ srcIpAddrs: ['10.2.0.1'], dstIpAddrs: ['10.2.0.2/32'], srcRoutes: [{ prefix: 'fd05::1' }] });
  t.same(ipContextOps('x', ctx, 'client').map(ipBatchLine), ['address add 10.2.0.1/32 dev x', 'route replace 10.2.0.2/32 dev x scope link', 'route replace fd05::1/128 dev x scope link']);
});

t.test('what the IP context says is checked: a next hop of the other family, a malformed address', async (t) => {
  const mixed = IPContext.fromPartial({ srcIpAddrs: ['10.0.0.2/32'], srcRoutes: [{ prefix: '10.9.0.0/16', nextHop: 'fd00::1' }] });
  t.throws(() => ipContextOps('x', mixed, 'client'), { code: 'INVALID_ARGUMENT', field: 'via', message: /invalid replace-route: via "fd00::1" is not of the family of dst 10\.9\.0\.0\/16/ });
  const bad = IPContext.fromPartial({ srcIpAddrs: ['10.0.0.2/32 dev eth0'] });
  t.throws(() => ipContextOps('x', bad, 'client'), { code: 'INVALID_ARGUMENT', field: 'address' });
});
