import t from 'tap';
import { isNsmError } from '../../../../sdk/errors.ts';
import { PointToPointPool } from '../../../../sidecar/nse/p2p/point-to-point-pool.ts';

t.test('pairs come from the lowest free addresses, skipping network and broadcast', async (t) => {
  const pool = new PointToPointPool('10.0.0.0/29');
  t.same(pool.allocate('a'), { dst: '10.0.0.1', src: '10.0.0.2' });
  t.same(pool.allocate('b'), { dst: '10.0.0.3', src: '10.0.0.4' });
  t.same(pool.allocate('a'), { dst: '10.0.0.1', src: '10.0.0.2' }, 'a refresh keeps the pair');
  t.same(pool.ipContext(pool.get('a')!), {
    srcIpAddrs: ['10.0.0.2/32'], dstIpAddrs: ['10.0.0.1/32'], srcIpRequired: false, dstIpRequired: false,
    srcRoutes: [{ prefix: '10.0.0.1/32', nextHop: '' }], dstRoutes: [{ prefix: '10.0.0.2/32', nextHop: '' }],
    excludedPrefixes: [], ipNeighbors: [], extraPrefixRequest: [], extraPrefixes: [], policies: [],
  });
});

t.test('released addresses are reused', async (t) => {
  const pool = new PointToPointPool('10.0.0.0/29');
  pool.allocate('a');
  pool.allocate('b');
  pool.release('a');
  t.same(pool.allocate('c'), { dst: '10.0.0.1', src: '10.0.0.2' });
  pool.release('nobody');
  t.equal(pool.connections, 2);
});

t.test('exhaustion is RESOURCE_EXHAUSTED naming the pool', async (t) => {
  const pool = new PointToPointPool('10.0.0.0/29');
  for (const id of ['a', 'b', 'c']) pool.allocate(id);
  const err = (() => { try { pool.allocate('d'); } catch (e) { return e; } })();
  t.ok(isNsmError(err, 'RESOURCE_EXHAUSTED'));
  t.match((err as Error).message, /address pool 10\.0\.0\.0\/29 is exhausted \(3 connections/);
});

t.test('a /31 pool is one pair of /31 halves without host routes', async (t) => {
  const pool = new PointToPointPool('192.168.7.4/31');
  const p = pool.allocate('a');
  t.same(p, { dst: '192.168.7.4', src: '192.168.7.5' });
  const ctx = pool.ipContext(p);
  t.same([ctx.srcIpAddrs, ctx.dstIpAddrs, ctx.srcRoutes], [['192.168.7.5/31'], ['192.168.7.4/31'], []]);
  t.throws(() => pool.allocate('b'), /exhausted/);
});

t.test('a refresh after an endpoint restart reclaims the pair it carries, if free', async (t) => {
  const pool = new PointToPointPool('10.0.0.0/24');
  t.same(pool.allocate('a', { src: '10.0.0.10', dst: '10.0.0.9' }), { src: '10.0.0.10', dst: '10.0.0.9' });
  t.same(pool.allocate('b', { src: '10.0.0.10', dst: '10.0.0.9' }), { dst: '10.0.0.1', src: '10.0.0.2' }, 'taken: a new pair');
  t.same(pool.allocate('c', { src: '10.9.0.1', dst: '10.9.0.2' }), { dst: '10.0.0.3', src: '10.0.0.4' }, 'outside the pool: a new pair');
});

t.test('bad pools are refused; a host bit set is normalised', async (t) => {
  t.throws(() => new PointToPointPool('10.0.0.0'), /not an IPv4 CIDR/);
  t.throws(() => new PointToPointPool('10.0.0.300/24'), /not an IPv4 address/);
  t.equal(new PointToPointPool('10.0.0.77/24').cidr, '10.0.0.0/24');
  t.throws(() => new PointToPointPool('10.0.0.1/32').allocate('a'), /exhausted/);
});

t.test('reserved pairs (an earlier run\'s connections) are given to no one else and claimed by their refresh', async (t) => {
  const pool = new PointToPointPool('10.0.0.0/29');
  t.ok(pool.reserve({ dst: '10.0.0.1', src: '10.0.0.2' }));
  t.notOk(pool.reserve({ dst: '10.0.0.1', src: '10.0.0.3' }), 'an address reserved already');
  t.notOk(pool.reserve({ dst: '10.9.0.1', src: '10.9.0.2' }), 'a pair outside the pool');
  t.same(pool.allocate('new'), { dst: '10.0.0.3', src: '10.0.0.4' }, 'a new connection gets other addresses');
  t.same(pool.allocate('old', { dst: '10.0.0.1', src: '10.0.0.2' }), { dst: '10.0.0.1', src: '10.0.0.2' }, 'the refresh carrying the pair claims it');
  t.equal(pool.unclaimed, 0);
  t.ok(pool.reserve({ dst: '10.0.0.5', src: '10.0.0.6' }));
  t.equal(pool.releaseUnclaimed(), 1, 'what no refresh claimed is freed');
  t.ok(pool.reserve({ dst: '10.0.0.5', src: '10.0.0.6' }));
  pool.release('closed-before-its-refresh', { dst: '10.0.0.5', src: '10.0.0.6' });
  t.equal(pool.unclaimed, 0, 'a Close carrying a reserved pair frees it');
  t.same(pool.allocate('later'), { dst: '10.0.0.5', src: '10.0.0.6' });
});
