import t from 'tap';
import { greMechanism, kernelMechanism, vxlanMechanism, type Mechanism } from '../../../proto/api.ts';
import { isTunnelAnswer, tunnelAnswerProblem } from '../../../forwarder/authz/tunnel-answer.ts';

const offers = [vxlanMechanism({ srcIp: '10.0.0.1', srcPort: 4789 }), greMechanism({ srcIp: '10.0.0.1' })];
const nodes = { meshNodes: new Set(['10.0.0.1', '10.0.0.2']), deviceCidrs: [] };
const vxlan = (p: Record<string, string | number> = {}) => {
  const m = vxlanMechanism({ srcIp: '10.0.0.1', dstIp: '192.0.2.1', srcPort: 4789, dstPort: 4789, vni: 42 });
  for (const [k, v] of Object.entries(p)) m.parameters[k] = String(v);
  return m;
};
const without = (m: Mechanism, key: string) => ({ ...m, parameters: Object.fromEntries(Object.entries(m.parameters).filter(([k]) => k !== key)) });

t.test('a tunnel to a device outside the mesh, as offered, is accepted', async (t) => {
  t.equal(tunnelAnswerProblem(vxlan(), offers, nodes), undefined);
  t.equal(tunnelAnswerProblem(greMechanism({ srcIp: '10.0.0.1', dstIp: '203.0.113.7', key: 9 }), offers, nodes), undefined);
  t.ok(isTunnelAnswer(vxlan()));
  t.notOk(isTunnelAnswer(kernelMechanism()));
});

t.test('what an endpoint may not point a client\'s tunnel at, or do to it', async (t) => {
  const cases: Array<[string, Mechanism, readonly Mechanism[], RegExp]> = [
    ['a type that was not offered', vxlan(), [offers[1]], /a VXLAN tunnel, which the forwarder did not offer it \(offered: GRE\)/],
    ['a namespace', vxlan({ inodeURL: 'inode://4/1' }), offers, /carries inodeURL; a tunnel answer names no namespace/],
    ['the client\'s end moved', vxlan({ src_ip: '10.0.0.9' }), offers, /starts the tunnel at 10\.0\.0\.9, not at 10\.0\.0\.1/],
    ['no VNI', without(vxlan(), 'vni'), offers, /has no vni/],
    ['VNI 0', vxlan({ vni: 0 }), offers, /has no vni/],
    ['no port', without(vxlan(), 'dst_port'), offers, /has no dst_port/],
    ['no GRE key', greMechanism({ srcIp: '10.0.0.1', dstIp: '192.0.2.1' }), offers, /has no key/],
    ['no far end', without(vxlan(), 'dst_ip'), offers, /has no dst_ip/],
    ['another family', vxlan({ dst_ip: '2001:db8::1' }), offers, /an address of the other family/],
    ['loopback', vxlan({ dst_ip: '127.0.0.1' }), offers, /127\.0\.0\.1, an unspecified, loopback, link-local or multicast address/],
    ['multicast', vxlan({ dst_ip: '239.1.1.1' }), offers, /multicast/],
    ['link-local', vxlan({ dst_ip: '169.254.9.9' }), offers, /link-local/],
    ['broadcast', vxlan({ dst_ip: '255.255.255.255' }), offers, /unspecified, loopback/],
    ['this node', vxlan({ dst_ip: '10.0.0.1' }), offers, /10\.0\.0\.1, a node of the mesh/],
    ['another node\'s tunnels', vxlan({ dst_ip: '10.0.0.2' }), offers, /10\.0\.0\.2, a node of the mesh: an endpoint may point a client's tunnel only at a device outside the mesh/],
  ];
  for (const [what, answer, offered, why] of cases) t.match(tunnelAnswerProblem(answer, offered, nodes), why, what);
});

t.test('with NSM_EXTERNAL_DEVICE_CIDRS, tunnels point only into those ranges', async (t) => {
  const ranged = { ...nodes, deviceCidrs: ['192.0.2.0/24', '2001:db8::/32'] };
  t.equal(tunnelAnswerProblem(vxlan({ dst_ip: '192.0.2.200' }), offers, ranged), undefined);
  t.match(tunnelAnswerProblem(vxlan({ dst_ip: '198.51.100.1' }), offers, ranged), /198\.51\.100\.1, outside the addresses this node lets tunnels point at \(NSM_EXTERNAL_DEVICE_CIDRS=192\.0\.2\.0\/24,2001:db8::\/32\)/);
  t.match(tunnelAnswerProblem(vxlan({ dst_ip: '10.0.0.2' }), offers, { ...nodes, deviceCidrs: ['10.0.0.0/8'] }), /a node of the mesh/, 'a node inside the ranges is still refused');
});
