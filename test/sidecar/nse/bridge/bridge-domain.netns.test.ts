import { join } from 'node:path';
import t from 'tap';
import { scrape, value } from '../../../fixtures/metrics.ts';
import { countBroadcast, bridgePorts, interfaceOf, pings } from '../../../fixtures/l2.ts';
import { startMesh } from '../../../fixtures/mesh.ts';
import { addNetns, ip, link, spawnNsm, uniquePrefix, waitFor, whyNoKernelTests } from '../../../fixtures/netns.ts';

const skip = whyNoKernelTests();
const SERVICE = 'l2-domain';

t.test('three nodes, one bridge each, one L2 domain: a full mesh without loops', { skip, timeout: 240_000 }, async (t) => {
  const p = uniquePrefix('bd');
  // Short lifetimes, so clients refresh (and heal) every couple of seconds.
  const mesh = await startMesh(t, p, 3, '10.250.210', { NSM_MAX_TOKEN_LIFETIME: '6s', NSM_EXPIRE_PERIOD: '6s' });
  const bridgeEnv = (i: number) => ({
    NSM_MODE: 'bridge', NSM_BRIDGE_DOMAIN: 'lab', NSM_IP_POOL: `10.61.${i + 1}.0/24`, NSM_PAYLOAD: 'ETHERNET', NSM_MAX_TOKEN_LIFETIME: '6s', NSM_LOG_LEVEL: 'info',
  });
  const bridges = [0, 1, 2].map((i) => addNetns(t, `${p}-b${i + 1}`));
  ip(['-n', bridges[0], 'link', 'set', 'lo', 'up']);
  const startBridge = (i: number) => mesh.startEndpoint(i, bridges[i], `bridge-${i + 1}`, SERVICE, '10.61.0.0/16', { ...bridgeEnv(i), ...(i === 0 ? { NSM_METRICS_LISTEN_ON: '127.0.0.1:9193' } : {}) });
  const endpoints = await Promise.all([0, 1, 2].map(startBridge));
  const links = (i: number) => bridgePorts(bridges[i]).filter((x) => x.isolated && x.up);
  await waitFor('a link between every two bridges', () => [0, 1, 2].every((i) => links(i).length === 2), 20_000);
  for (const i of [0, 1, 2]) t.same(links(i).map((l) => l.mtu), [1450, 1450], `bridge ${i + 1}: two isolated VXLAN ports of 1450 bytes`);

  const clients = [0, 1, 2].map((i) => addNetns(t, `${p}-c${i + 1}`));
  const clientEnv = (i: number) => ({
    NSM_NAME: `client-${i + 1}`, NSM_NETWORK_SERVICES: `kernel://${SERVICE}/nsm-1`, NSM_CONNECT_TO: `unix://${mesh.nodes[i].socket}`,
    NSM_CONNECTIONS_DIR: join(mesh.dir, 'conns', `client-${i + 1}`), NSM_INIT_TIMEOUT: '20s',
  });
  const inits = await Promise.all([0, 1, 2].map((i) => mesh.init(i, clients[i], `client-${i + 1}`, SERVICE, clientEnv(i))));
  for (const r of inits) t.equal(r.code, 0, r.output);
  const runs = [0, 1, 2].map((i) => spawnNsm(t, clients[i], ['nsc', 'run'], { ...clientEnv(i), NSM_LOG_LEVEL: 'info' }));
  // With lifetimes this short, a connection nsc init made may expire before nsc run starts (a
  // loaded machine): nsc run then requests it again. Either way the tests start once it keeps them.
  await waitFor('each nsc run keeping its connection', () => runs.every((r) => r.output().includes('adopting the connection')), 20_000);
  await waitFor('each client with its interface', () => clients.every((c) => interfaceOf(c)?.address), 20_000);
  const address = (i: number) => interfaceOf(clients[i])?.address ?? '';

  await t.test('each client joins the bridge of its own node, sized for the smallest path', async (t) => {
    for (const i of [0, 1, 2]) {
      const conn = mesh.connection(`client-${i + 1}`) as unknown as { networkServiceEndpointName: string; context: { MTU: number; ipContext: { srcIpAddrs: string[] } } };
      t.equal(conn.networkServiceEndpointName, `bridge-${i + 1}`, `client ${i + 1} is connected to the bridge on its node`);
      t.match(conn.context.ipContext.srcIpAddrs[0], new RegExp(`^10\\.61\\.${i + 1}\\.\\d+/16$`), 'an address of its bridge\'s pool, with the prefix\'s length');
      t.equal(interfaceOf(clients[i])?.mtu, 1450, 'the domain\'s MTU: a VXLAN hop');
    }
    const metrics = scrape(bridges[0], 9193);
    t.same(['nsm_nse_bridge_links', 'nsm_nse_bridge_domain_mtu', 'nsm_nse_address_pool_size', 'nsm_nse_addresses{state="used"}'].map((s) => value(metrics, s)), [2, 1450, 253, 1],
      'bridge 1\'s metrics: two links, their MTU, its /24 pool less its own address, one client');
  });

  await t.test('clients on different nodes reach each other over the tunnels, at full size and not one byte more', async (t) => {
    for (const [a, b] of [[0, 1], [0, 2], [1, 2], [2, 0]]) {
      t.ok(pings(clients[a], address(b)).ok, `client ${a + 1} pings client ${b + 1}`);
      t.ok(pings(clients[a], address(b), 1450 - 28).ok, `client ${a + 1} reaches client ${b + 1} with a 1450-byte packet`);
      t.match(pings(clients[a], address(b), 1450 - 27).output, /message too long|mtu = 1450/, 'one byte more is refused locally');
    }
  });

  await t.test('one broadcast reaches every other client exactly once, and nothing circulates', async (t) => {
    for (const from of [0, 2]) {
      const others = [0, 1, 2].filter((i) => i !== from);
      // Unicast first: each path is up (a refresh may just have healed one) before one broadcast is counted.
      await waitFor(`client ${from + 1} reaching each other client`, () => others.every((i) => pings(clients[from], address(i)).ok), 15_000);
      const counts = await countBroadcast(t, { netns: clients[from], ifname: 'nsm-1' }, '10.61.200.1', others.map((i) => ({ netns: clients[i], ifname: 'nsm-1' })));
      const seen = `(links: ${[0, 1, 2].map((i) => `bridge ${i + 1} ${bridgePorts(bridges[i]).map((x) => `${x.ifname}${x.up ? '' : ' down'}`).join(' ')}`).join('; ')})`;
      t.same(counts.first, [1, 1], `from client ${from + 1}: one copy at each other client ${seen}`);
      t.same(counts.later, [1, 1], 'and still one a few seconds later');
    }
  });

  await t.test('a bridge endpoint that crashed and restarts closes the links it had asked for and asks again: still one link per pair', async (t) => {
    // The bridge that registered last asked for both its links (which one that is depends on who registered first).
    const k = [0, 1, 2].find((i) => links(i).filter((l) => l.ifname.startsWith('nsmp')).length === 2)!;
    const others = [0, 1, 2].filter((i) => i !== k);
    t.ok(k !== undefined, 'one bridge asked for a link to each of the others');
    const before = links(k).map((l) => l.ifname);
    endpoints[k].child.kill('SIGKILL');
    await endpoints[k].exited;
    endpoints[k] = await startBridge(k);
    await waitFor(`bridge ${k + 1} to say it closed the links of its previous run`, () => /closed the links of a previous run/.test(endpoints[k].output()), 10_000)
      .catch((err: Error) => { throw new Error(`${err.message}; it said: ${endpoints[k].output()}`); });
    await waitFor(`bridge ${k + 1} linked again`, () => [0, 1, 2].every((i) => links(i).length === 2), 20_000);
    t.same(links(k).map((l) => l.ifname).sort(), before.sort(), 'the same two ports: both links asked for again under their names');
    t.ok(others.every((i) => pings(clients[k], address(i)).ok && pings(clients[i], address(k)).ok), 'its client and the others still reach each other');
    const counts = await countBroadcast(t, { netns: clients[k], ifname: 'nsm-1' }, '10.61.200.3', others.map((i) => ({ netns: clients[i], ifname: 'nsm-1' })));
    t.same([counts.first, counts.later], [[1, 1], [1, 1]], 'a broadcast still arrives once at each other client');
  });

  await t.test('a bridge endpoint pod deleted: the other two nodes stay connected; back again, its clients rejoin', async (t) => {
    const before = link(clients[2], 'nsm-1')?.ifindex;
    endpoints[2].child.kill('SIGKILL');
    await endpoints[2].exited;
    ip(['netns', 'del', bridges[2]]);
    // The pair goes with the bridge's namespace. nsc run heals at once: it may already hold a new
    // interface (to a bridge on another node) by the time this looks, so the old one is what goes.
    await waitFor('the client of the deleted bridge to lose its interface with the pod', () => link(clients[2], 'nsm-1')?.ifindex !== before, 15_000);
    for (let round = 0; round < 3; round++) {
      t.ok(pings(clients[0], address(1)).ok && pings(clients[1], address(0)).ok, `nodes 1 and 2 still reach each other (${round * 2} s after)`);
      await new Promise((r) => setTimeout(r, 2000));
    }
    ip(['netns', 'add', bridges[2]]);
    await startBridge(2);
    await waitFor('the bridge back on node 3 linked to both others', () => links(2).length === 2, 20_000);
    await waitFor('client 3 back in the domain', () => pings(clients[2], address(0)).ok && pings(clients[2], address(1)).ok, 45_000);
    t.pass('client 3 reaches the clients of nodes 1 and 2 again');
    await waitFor('the links to the deleted bridge expired', () => links(0).length === 2 && links(1).length === 2, 20_000);
    const counts = await countBroadcast(t, { netns: clients[2], ifname: 'nsm-1' }, '10.61.200.2', [0, 1].map((i) => ({ netns: clients[i], ifname: 'nsm-1' })));
    t.same(counts.first, [1, 1], 'a broadcast from the rejoined client reaches each other client once');
    t.same(counts.later, [1, 1], 'and nothing circulates');
  });
});
