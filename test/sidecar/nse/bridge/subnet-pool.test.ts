import t from 'tap';
import { isNsmError } from '../../../../sdk/errors.ts';
import { macOf } from '../../../../sidecar/nse/bridge/mac.ts';
import { SubnetPool } from '../../../../sidecar/nse/bridge/subnet-pool.ts';

t.test('the bridge takes the first address of the pool, clients the next ones, all with the prefix\'s length', async (t) => {
  const pool = new SubnetPool('10.60.0.0/16', '10.60.1.0/24');
  t.equal(pool.bridgeAddress, '10.60.1.1');
  t.equal(pool.allocate('a'), '10.60.1.2');
  t.equal(pool.allocate('b'), '10.60.1.3');
  t.equal(pool.allocate('a'), '10.60.1.2', 'a refresh keeps its address');
  t.equal(pool.withLength('10.60.1.2'), '10.60.1.2/16');
  t.equal(pool.get('b'), '10.60.1.3');
  t.equal(pool.connections, 2);
});

t.test('without a pool the whole prefix is handed out, never its network or broadcast address', async (t) => {
  const pool = new SubnetPool('10.60.0.0/30');
  t.equal(pool.bridgeAddress, '10.60.0.1');
  t.equal(pool.allocate('a'), '10.60.0.2');
  const err = (() => { try { pool.allocate('b'); } catch (e) { return e; } })();
  t.ok(isNsmError(err, 'RESOURCE_EXHAUSTED'), 'the broadcast address is not a client\'s');
  t.match((err as Error).message, /address pool 10\.60\.0\.0\/30 is exhausted \(1 clients and 0 held for returning clients use its addresses\): give the endpoint a larger NSM_IP_POOL/);
  pool.release('a');
  t.equal(pool.allocate('b'), '10.60.0.2', 'released addresses are reused');
  const pair = new SubnetPool('10.60.0.0/24', '10.60.0.252/31');
  t.same([pair.bridgeAddress, pair.allocate('a')], ['10.60.0.252', '10.60.0.253'], 'a /31 pool: both its addresses');
  t.throws(() => new SubnetPool('10.60.0.0/24', '10.60.0.254/31'), /leaves no address for a client/, 'but never the prefix\'s broadcast');
});

t.test('a refresh after a restart gets back the address it carries: one held for it, or a free one of the pool', async (t) => {
  const pool = new SubnetPool('10.60.0.0/24');
  t.ok(pool.hold('10.60.0.7'));
  t.notOk(pool.hold('10.61.0.7'), 'not the pool\'s');
  t.notOk(pool.hold('10.60.0.1'), 'the bridge\'s own');
  t.equal(pool.allocate('new'), '10.60.0.2');
  t.equal(pool.allocate('back', '10.60.0.7'), '10.60.0.7', 'held for it');
  t.equal(pool.allocate('again', '10.60.0.7'), '10.60.0.3', 'taken: the lowest free one');
  t.equal(pool.allocate('free', '10.60.0.9'), '10.60.0.9', 'free and in the pool');
  t.equal(pool.allocate('outside', '10.99.0.9'), '10.60.0.4');
  t.ok(pool.hold('10.60.0.20'));
  t.same(pool.releaseHeld(), ['10.60.0.20'], 'what nobody came back for is released');
  t.equal(pool.allocate('later', '10.60.0.20'), '10.60.0.20');
});

t.test('bad settings name the variable', async (t) => {
  t.throws(() => new SubnetPool('10.60.0.0/16', '10.61.0.0/24'), /NSM_IP_POOL=10\.61\.0\.0\/24 is not inside NSM_CIDR_PREFIX=10\.60\.0\.0\/16/);
  t.throws(() => new SubnetPool('10.60.0.0/24', '10.60.0.0/16'), /not inside/, 'a pool larger than the prefix');
  t.throws(() => new SubnetPool('10.60.0.0/33'), /NSM_CIDR_PREFIX=10\.60\.0\.0\/33: .* is not an IPv4 CIDR/);
  t.throws(() => new SubnetPool('10.60.0.0/24', '10.60.0.300/30'), /NSM_IP_POOL=.*"10\.60\.0\.300" is not an IPv4 address/);
  t.throws(() => new SubnetPool('10.60.0.0/24', '10.60.0.5/32'), /NSM_IP_POOL=10\.60\.0\.5\/32 leaves no address for a client/);
});

t.test('the MAC of an address: locally administered unicast with the address in its last four bytes', async (t) => {
  t.equal(macOf('10.60.1.2'), '02:6e:0a:3c:01:02');
  t.equal(macOf('255.0.16.9'), '02:6e:ff:00:10:09');
  t.throws(() => macOf('fd00::1'), /not an IPv4 address/);
});
