import t from 'tap';
import { IPContext } from '../../../proto/api.ts';
import { ipContextCommands } from '../../../forwarder/dataplane/ipcontext.ts';
import { parseBatchErrors } from '../../../forwarder/dataplane/runner.ts';

const p2p = IPContext.fromPartial({ srcIpAddrs: ['10.0.0.2/32'], dstIpAddrs: ['10.0.0.1/32'], srcRoutes: [{ prefix: '10.0.0.1/32' }, { prefix: '192.168.0.0/16' }], dstRoutes: [{ prefix: '10.0.0.2/32' }] });

t.test('client end: own addresses, on-link route to the peer, other routes via the peer', async (t) => {
  t.same(ipContextCommands('nsm-1', p2p, 'client'), [
    'address add 10.0.0.2/32 dev nsm-1',
    'route replace 10.0.0.1/32 dev nsm-1 scope link',
    'route replace 192.168.0.0/16 via 10.0.0.1 dev nsm-1',
  ]);
});

t.test('endpoint end uses dst addresses and routes', async (t) => {
  t.same(ipContextCommands('e', p2p, 'endpoint'), ['address add 10.0.0.1/32 dev e', 'route replace 10.0.0.2/32 dev e scope link']);
});

t.test('a peer inside the own prefix needs no route; an explicit next hop is kept', async (t) => {
  const ctx = IPContext.fromPartial({ srcIpAddrs: ['10.1.0.1/31'], dstIpAddrs: ['10.1.0.0/31'], srcRoutes: [{ prefix: '0.0.0.0/0', nextHop: '10.1.0.0' }] });
  t.same(ipContextCommands('x', ctx, 'client'), ['address add 10.1.0.1/31 dev x', 'route replace 0.0.0.0/0 via 10.1.0.0 dev x']);
  t.same(ipContextCommands('x', undefined, 'client'), []);
});

t.test('an IPv6 peer inside the own prefix needs no on-link route', async (t) => {
  const ctx = IPContext.fromPartial({ srcIpAddrs: ['fd00::2/127'], dstIpAddrs: ['fd00::3/127'], srcRoutes: [{ prefix: 'fd01::/64' }] });
  t.same(ipContextCommands('x', ctx, 'client'), ['address add fd00::2/127 dev x', 'route replace fd01::/64 via fd00::3 dev x']);
});

t.test('batch errors are attributed to their line', async (t) => {
  const stderr = 'RTNETLINK answers: File exists\nCommand failed -:2\nCannot find device "nope"\nCommand failed -:5\n';
  t.same([...parseBatchErrors(stderr)], [[2, 'RTNETLINK answers: File exists'], [5, 'Cannot find device "nope"']]);
});
