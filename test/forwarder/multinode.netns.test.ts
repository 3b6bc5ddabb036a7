import t from 'tap';
import { probeLinkTypes } from '../../forwarder/tunnels/probe.ts';
import { startMesh } from '../fixtures/mesh.ts';
import { addNetns, ping, uniquePrefix, whyNoKernelTests } from '../fixtures/netns.ts';

const skip = whyNoKernelTests();
const peerIp = (conn: { context: { ipContext: { dstIpAddrs: string[] } } }) => conn.context.ipContext.dstIpAddrs[0].split('/')[0];

t.test('three nodes: one client node reaches endpoints on two others at once, and a third pair crosses', { skip, timeout: 120_000 }, async (t) => {
  const p = uniquePrefix('m3');
  const mesh = await startMesh(t, p, 3, '10.250.201');
  const [ep2, ep3, c1a, c1b, c3] = ['ep2', 'ep3', 'c1a', 'c1b', 'c3'].map((n) => addNetns(t, `${p}-${n}`));
  await Promise.all([mesh.startEndpoint(1, ep2, 'nse-2', 'svc-2', '10.235.0.0/24'), mesh.startEndpoint(2, ep3, 'nse-3', 'svc-3', '10.236.0.0/24')]);
  const results = await Promise.all([mesh.init(0, c1a, 'c1a', 'svc-2'), mesh.init(0, c1b, 'c1b', 'svc-3'), mesh.init(2, c3, 'c3', 'svc-2')]);
  for (const r of results) t.equal(r.code, 0, r.output);
  const conns = ['c1a', 'c1b', 'c3'].map((c) => mesh.connection(c));
  const vnis = conns.map((c) => c.context.extraContext.tunnel_vni);
  t.equal(new Set(vnis).size, 3, `three tunnels, three VNIs (${vnis})`);
  for (const [i, c] of ['c1a', 'c1b', 'c3'].entries()) {
    t.equal(conns[i].context.extraContext.tunnel, 'VXLAN');
    t.ok(ping([c1a, c1b, c3][i], peerIp(conns[i])), `${c} pings its endpoint`);
  }
});

const gretap = skip ? undefined : (await probeLinkTypes(['gretap'])).gretap;
const skipGre = skip || (gretap?.available ? false : `this kernel cannot create gretap links: ${gretap?.reason}`);

t.test('GRE between two nodes', { skip: skipGre, timeout: 60_000 }, async (t) => {  const p = uniquePrefix('gre');
  const mesh = await startMesh(t, p, 2, '10.250.202', { NSM_MECHANISM_PRIORITY: 'GRE' });
  const [ep, c] = [addNetns(t, `${p}-ep`), addNetns(t, `${p}-c`)];
  await mesh.startEndpoint(1, ep, 'nse-g', 'svc-g', '10.237.0.0/24');
  const r = await mesh.init(0, c, 'cg', 'svc-g');
  t.equal(r.code, 0, r.output);
  const conn = mesh.connection('cg');
  t.equal(conn.context.extraContext.tunnel, 'GRE');
  t.equal(conn.context.MTU, 1458, 'gretap with key: 1500 - 42');
  t.ok(ping(c, peerIp(conn)));
});
