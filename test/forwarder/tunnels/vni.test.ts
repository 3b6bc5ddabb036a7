import t from 'tap';
import fc from 'fast-check';
import { compareIps, VniAllocator, vniIsEven, VNI_MAX } from '../../../forwarder/tunnels/vni.ts';
import { tunnelMtu, tunnelOverhead } from '../../../forwarder/tunnels/mtu.ts';

t.test('addresses compare byte-wise, IPv4 and IPv6', async (t) => {
  t.ok(compareIps('10.0.0.2', '10.0.0.10') < 0, 'numeric, not lexical');
  t.equal(compareIps('10.0.0.1', '10.0.0.1'), 0);
  t.ok(compareIps('192.168.0.1', '10.0.0.1') > 0);
  t.ok(compareIps('fd00::1', 'fd00::1:0') < 0);
  t.equal(compareIps('::1', '0:0:0:0:0:0:0:1'), 0);
  t.throws(() => compareIps('node-a', '10.0.0.1'), /"node-a" is not an IP address/);
});

t.test('parity follows upstream: even when src <= dst', async (t) => {
  t.ok(vniIsEven('10.0.0.1', '10.0.0.2'));
  t.notOk(vniIsEven('10.0.0.2', '10.0.0.1'));
  t.ok(vniIsEven('10.0.0.1', '10.0.0.1'));
});

t.test('property: two nodes allocating toward each other never collide', async (t) => {
  const ip = fc.tuple(fc.integer({ min: 1, max: 254 }), fc.integer({ min: 0, max: 255 })).map(([a, b]) => `10.${a}.${b}.1`);
  fc.assert(fc.property(ip, ip, fc.integer({ min: 1, max: 40 }), (a, b, n) => {
    if (a === b) return true;
    const onB = new VniAllocator();
    const onA = new VniAllocator();
    const towardB = Array.from({ length: n }, () => onB.allocate(a, b).vni);
    const towardA = Array.from({ length: n }, () => onA.allocate(b, a).vni);
    const all = [...towardB, ...towardA];
    return new Set(all).size === all.length && all.every((v) => v >= 1 && v <= VNI_MAX);
  }), { numRuns: 200 });
  t.pass('no collisions');
});

t.test('allocations are unique on a node, released numbers come back, exhaustion is named', async (t) => {
  let i = 0;
  const sequence = [0.5, 0.5, 0.5, 0.25];
  const alloc = new VniAllocator(() => sequence[i++ % sequence.length]);
  const first = alloc.allocate('10.0.0.1', '10.0.0.2');
  t.equal(first.vni % 2, 0);
  const second = alloc.allocate('10.0.0.1', '10.0.0.2');
  t.not(second.vni, first.vni, 'a taken number is skipped');
  first.release();
  t.equal(alloc.size, 1);
  first.release();
  t.equal(alloc.size, 1, 'a lease released twice is released once');
  t.notOk(alloc.reserve(second.vni));
  t.ok(alloc.reserve(7));
  const stuck = new VniAllocator(() => 0);
  stuck.allocate('10.0.0.2', '10.0.0.1');
  t.throws(() => stuck.allocate('10.0.0.2', '10.0.0.1'), { code: 'RESOURCE_EXHAUSTED', message: /no free VXLAN VNI/ });
  const top = new VniAllocator(() => 0.99999999999);
  t.equal(top.allocate('10.0.0.1', '10.0.0.2').vni % 2, 0, 'the top of the range stays in range and even');
});

t.test('tunnel MTU leaves room for the encapsulation', async (t) => {
  t.equal(tunnelOverhead('VXLAN', 'ETHERNET', '10.0.0.1'), 50);
  t.equal(tunnelMtu(1500, 'VXLAN', 'ETHERNET', '10.0.0.1'), 1450);
  t.equal(tunnelMtu(1500, 'VXLAN', 'ETHERNET', 'fd00::1'), 1430);
  t.equal(tunnelMtu(1500, 'GRE', 'ETHERNET', '10.0.0.1'), 1458);
  t.equal(tunnelMtu(1500, 'GRE', 'IP', '10.0.0.1'), 1472);
  t.equal(tunnelMtu(9000, 'VXLAN', 'ETHERNET', '10.0.0.1'), 8950);
});
