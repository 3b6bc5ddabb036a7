import { join } from 'node:path';
import t from 'tap';
import { startMesh } from '../../fixtures/mesh.ts';
import { addNetns, ip, link, links, ping, spawnNsm, stopNsm, uniquePrefix, waitFor, whyNoKernelTests } from '../../fixtures/netns.ts';
import { pingFlow } from '../../fixtures/ping-flow.ts';

const skip = whyNoKernelTests();
const peerIp = (conn: { context: { ipContext: { dstIpAddrs: string[] } } }) => conn.context.ipContext.dstIpAddrs[0].split('/')[0];

/**
 * The cross-node rows of the healing table: the endpoint's forwarder restarted (the tunnel stays,
 * no packet is lost), then the endpoint's whole node gone (the client reconnects to an endpoint
 * on a third node). Connections live the default 10 minutes: what heals here heals by events.
 */
t.test('healing across nodes', { skip, timeout: 180_000 }, async (t) => {
  const p = uniquePrefix('hx');
  const mesh = await startMesh(t, p, 3, '10.250.203');
  const [ep2, ep3, c] = ['ep2', 'ep3', 'c'].map((n) => addNetns(t, `${p}-${n}`));
  ip(['-n', c, 'link', 'set', 'lo', 'up']);
  const endpoint2 = await mesh.startEndpoint(1, ep2, 'ep-2', 'remote-heal', '10.242.0.0/29');
  const init = await mesh.init(0, c, 'c', 'remote-heal');
  t.equal(init.code, 0, `the client on node1 connects to the endpoint on node2: ${init.output}`);
  t.equal(mesh.connection('c').context.extraContext.tunnel, 'VXLAN');
  await mesh.startEndpoint(2, ep3, 'ep-3', 'remote-heal', '10.242.0.0/29');
  const endpointOf = () => (mesh.connection('c') as unknown as { networkServiceEndpointName: string }).networkServiceEndpointName;
  const run = spawnNsm(t, c, ['nsc', 'run'], {
    NSM_NAME: 'c', NSM_NETWORK_SERVICES: 'kernel://remote-heal/nsm-1', NSM_CONNECT_TO: `unix://${mesh.nodes[0].socket}`,
    NSM_CONNECTIONS_DIR: join(mesh.dir, 'conns', 'c'), NSM_LOG_LEVEL: 'info',
  });
  t.ok(ping(c, peerIp(mesh.connection('c'))), 'the client pings its endpoint across nodes');

  await t.test('the endpoint\'s forwarder restarted: the tunnel stays, no packet lost', async (t) => {
    const before = link(c, 'nsm-1')!.ifindex;
    const flow = pingFlow(t, c, peerIp(mesh.connection('c')));
    await waitFor('pings', () => flow.replies.length > 20);
    t.equal(await stopNsm(mesh.nodes[1].forwarder), 0, 'node2\'s forwarder stops');
    const restarted = await mesh.startForwarder(1, { NSM_LOG_LEVEL: 'info' });
    await waitFor('node2\'s new forwarder adopting the tunnel', () => restarted.output().includes('adopted the tunnel of a previous forwarder'), 20_000);
    const adoptedAt = flow.replies.length;
    await waitFor('pings after the adoption', () => flow.replies.length > adoptedAt + 20);
    await flow.stop();
    t.equal(flow.lost(), 0, `no packet lost (${flow.replies.length} replies every 10 ms)`);
    t.equal(link(c, 'nsm-1')?.ifindex, before, 'the same tunnel device in the client');
    t.equal(endpointOf(), 'ep-2', 'the same endpoint');
  });

  await t.test('the endpoint\'s node gone: the client reconnects to the endpoint on node3', async (t) => {
    const flow = pingFlow(t, c, peerIp(mesh.connection('c')));
    await waitFor('pings', () => flow.replies.length > 10);
    const gone = Date.now();
    for (const proc of [mesh.nodes[1].forwarder, endpoint2]) {
      proc.child.kill('SIGKILL');
      await proc.exited;
    }
    ip(['netns', 'del', ep2]);
    ip(['netns', 'del', mesh.nodes[1].netns]);
    const pathGone = Date.now();
    await waitFor('the client on ep-3', () => endpointOf() === 'ep-3', 30_000);
    const first = await waitFor('a ping through node3', () => flow.firstReplyAfter(pathGone), 20_000);
    await flow.stop();
    t.comment(`first reply through node3 ${(first.at - gone).toFixed(0)} ms after node2 went away`);
    t.equal(mesh.connection('c').context.extraContext.tunnel, 'VXLAN', 'over a tunnel to node3');
    t.ok(link(c, 'nsm-1'), 'with the same interface name');
    t.ok(ping(c, peerIp(mesh.connection('c'))), 'pings ep-3');
  });

  t.equal(await stopNsm(run), 0, 'nsc run exits 0');
  t.same(links(c).filter((l) => l.ifalias?.startsWith('nsm:')), [], 'nothing left in the client');
  await waitFor('nothing left on node3', () => links(mesh.nodes[2].netns).every((l) => l.ifname === 'lo' || l.ifname === 'ul0'), 10_000);
  t.same(links(ep3).filter((l) => l.ifalias?.startsWith('nsm:')), [], 'nor at the endpoint');
});
