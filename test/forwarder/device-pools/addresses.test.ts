import t from 'tap';
import { AddressPool } from '../../../forwarder/device-pools/addresses.ts';
import { isNsmError } from '../../../sdk/errors.ts';

t.test('one address per connection, with the prefix\'s own length, lowest first, never an excluded one', async (t) => {
  const pool = new AddressPool('10.63.0.7/24', ['10.63.0.1/32', '10.63.0.3/31']);
  t.equal(pool.cidr, '10.63.0.0/24');
  t.equal(pool.take('a'), '10.63.0.4/24', 'not the network address, not .1, .2-.3');
  t.equal(pool.take('a'), '10.63.0.4/24', 'the same connection keeps its address');
  t.equal(pool.take('b'), '10.63.0.5/24');
  pool.release('a');
  t.equal(pool.take('c'), '10.63.0.4/24', 'a released address is handed out again');
  t.equal(pool.take('d', '10.63.0.200/24'), '10.63.0.200/24', 'an address a refresh carries is kept when free');
  t.equal(pool.take('e', '10.63.0.200/24'), '10.63.0.6/24', 'but not when taken');
  t.equal(pool.take('f', '10.63.0.1/24'), '10.63.0.7/24', 'nor when excluded');
  t.equal(pool.take('g', '10.64.0.1/24'), '10.63.0.8/24', 'nor outside the prefix');
});

t.test('IPv4 edges: no broadcast below /31; /31 and /32 hand out what they have', async (t) => {
  const small = new AddressPool('10.0.0.0/30');
  t.same([small.take('a'), small.take('b')], ['10.0.0.1/30', '10.0.0.2/30']);
  const err = (() => {
    try {
      small.take('c');
    } catch (e) {
      return e;
    }
  })();
  t.ok(isNsmError(err, 'RESOURCE_EXHAUSTED'));
  t.match((err as Error).message, /10\.0\.0\.0\/30 without nothing\) are all in use by 2 connections: give the pool a larger cidrPrefix/);
  const pair = new AddressPool('10.0.0.0/31');
  t.same([pair.take('a'), pair.take('b')], ['10.0.0.0/31', '10.0.0.1/31']);
  t.equal(new AddressPool('10.9.9.9/32').take('a'), '10.9.9.9/32');
});

t.test('IPv6: the subnet-router address is skipped, addresses are written short', async (t) => {
  const pool = new AddressPool('fd63::/64', ['fd63::1/128']);
  t.equal(pool.take('a'), 'fd63::2/64');
  t.equal(pool.take('b', 'fd63::abcd/64'), 'fd63::abcd/64');
  t.equal(pool.take('c', '10.0.0.1/24'), 'fd63::3/64', 'an address of the other family is not claimable');
  t.equal(new AddressPool('fd63:0:0:1::/64').take('a'), 'fd63:0:0:1::1/64');
});

t.test('excluded ranges are stepped over whole, however large', async (t) => {
  t.equal(new AddressPool('fd63::/64', ['fd63::/65']).take('a'), 'fd63::8000:0:0:0/64');
  t.throws(() => new AddressPool('10.0.0.0/8', ['10.0.0.0/9', '10.128.0.0/9']).take('a'), /10\.0\.0\.0\/8 without 10\.0\.0\.0\/9, 10\.128\.0\.0\/9\) are all in use by 0 connections/);
});
