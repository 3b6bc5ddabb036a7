import { spawnSync } from 'node:child_process';
import t from 'tap';
import { captureVxlan } from '../fixtures/capture.ts';
import { startMesh } from '../fixtures/mesh.ts';
import { addNetns, links, ping, uniquePrefix, whyNoKernelTests } from '../fixtures/netns.ts';

const skip = whyNoKernelTests();

const nsmLinks = (ns: string) => links(ns).filter((l) => l.ifalias?.startsWith('nsm:'));
const peerIp = (conn: { context: { ipContext: { dstIpAddrs: string[] } } }) => conn.context.ipContext.dstIpAddrs[0].split('/')[0];

function vxlanId(ns: string, ifname: string): number | undefined {
  const out = JSON.parse(spawnSync('ip', ['-n', ns, '-j', '-d', 'link', 'show', 'dev', ifname], { encoding: 'utf8' }).stdout) as Array<{ linkinfo?: { info_kind: string; info_data?: { id?: number } } }>;
  return out[0]?.linkinfo?.info_kind === 'vxlan' ? out[0].linkinfo.info_data?.id : undefined;
}

function pingDf(ns: string, to: string, size: number): boolean {
  return spawnSync('ip', ['netns', 'exec', ns, 'ping', '-c', '1', '-W', '1', '-M', 'do', '-s', String(size), to], { timeout: 5000 }).status === 0;
}

t.test('kernel2ethernet2kernel across two nodes over VXLAN', { skip, timeout: 120_000 }, async (t) => {
  const p = uniquePrefix('rx');
  const mesh = await startMesh(t, p, 2, '10.250.200');
  const [ep2, c1] = [addNetns(t, `${p}-ep2`), addNetns(t, `${p}-c1`)];
  await mesh.startEndpoint(1, ep2, 'icmp-b', 'remote-b', '10.233.0.0/24');
  const r = await mesh.init(0, c1, 'c1', 'remote-b');
  t.equal(r.code, 0, `client on node1 connects to the endpoint on node2: ${r.output}`);
  const conn = mesh.connection('c1');
  t.equal(conn.context.extraContext.tunnel, 'VXLAN', 'the connection reports a VXLAN tunnel');
  const vni = Number(conn.context.extraContext.tunnel_vni);
  t.ok(vni > 0, `VNI ${vni}`);
  t.equal(vxlanId(c1, 'nsm-1'), vni, 'the client interface is a VXLAN device with that VNI, straight in the pod');
  t.equal(conn.context.MTU, 1450, 'MTU = underlay 1500 - 50');
  t.equal(links(c1).find((l) => l.ifname === 'nsm-1')?.ifalias?.startsWith('nsm:'), true, 'named after the connection');

  const seen = captureVxlan(mesh.nodes[1].netns, mesh.nodes[1].ifname, 2, 8);
  await new Promise((r) => setTimeout(r, 500));
  t.ok(ping(c1, peerIp(conn)), 'the client pings the endpoint across nodes');
  const dump = await seen;
  t.match(dump, new RegExp(`VXLAN.*vni ${vni}\\b`), `the underlay of node2 carries VNI ${vni}`);

  await t.test('MTU: the largest unfragmented ping fits, one byte more does not', async (t) => {
    const size = conn.context.MTU - 28;
    t.ok(pingDf(c1, peerIp(conn), size), `ping -M do -s ${size} passes`);
    t.notOk(pingDf(c1, peerIp(conn), size + 1), `ping -M do -s ${size + 1} fails`);
  });

  await t.test('connections in both directions at once get distinct VNIs', async (t) => {
    const [ep1, c2, c3] = [addNetns(t, `${p}-ep1`), addNetns(t, `${p}-c2`), addNetns(t, `${p}-c3`)];
    await mesh.startEndpoint(0, ep1, 'icmp-a', 'remote-a', '10.234.0.0/24');
    const [a, b] = await Promise.all([mesh.init(1, c2, 'c2', 'remote-a'), mesh.init(0, c3, 'c3', 'remote-b')]);
    t.equal(a.code, 0, a.output);
    t.equal(b.code, 0, b.output);
    const vnis = [vni, ...['c2', 'c3'].map((c) => Number(mesh.connection(c).context.extraContext.tunnel_vni))];
    t.equal(new Set(vnis).size, 3, `distinct VNIs ${vnis}`);
    t.not(vnis[1] % 2, vnis[0] % 2, 'node2→node1 has the other parity than node1→node2');
    t.ok(ping(c2, peerIp(mesh.connection('c2'))), 'node2 client pings the node1 endpoint');
    t.ok(ping(c3, peerIp(mesh.connection('c3'))), 'the second node1 client pings too');
  });

  await t.test('peer down: UNAVAILABLE naming the peer, nothing left on either node', async (t) => {
    const c4 = addNetns(t, `${p}-c4`);
    const before2 = nsmLinks(ep2).length;
    mesh.nodes[1].forwarder.child.kill('SIGKILL');
    await mesh.nodes[1].forwarder.exited;
    const r = await mesh.init(0, c4, 'c4', 'remote-b', { NSM_INIT_TIMEOUT: '3s' });
    t.equal(r.code, 1, 'init fails');
    t.match(r.output, new RegExp(`UNAVAILABLE|cannot reach tcp://${mesh.nodes[1].ip.replaceAll('.', '\\.')}:5001`), r.output);
    t.match(r.output, `tcp://${mesh.nodes[1].ip}:5001`, 'the message names the peer');
    t.ok(r.ms < 10_000, `fails in bounded time (${r.ms} ms)`);
    t.same(nsmLinks(c4), [], 'no interface in the client');
    t.equal(nsmLinks(ep2).length, before2, 'nothing new at the endpoint');
    t.same(links(mesh.nodes[0].netns).filter((l) => l.ifname !== 'lo' && l.ifname !== 'ul0'), [], 'nothing in node1');
    t.same(links(mesh.nodes[1].netns).filter((l) => l.ifname !== 'lo' && l.ifname !== 'ul0'), [], 'nothing in node2');
  });
});
