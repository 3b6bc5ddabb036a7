import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { Connection, kernelMechanism, NetworkServiceRequest } from '../../../../proto/api.ts';
import { fromNamespace } from '../../../fixtures/foreign.ts';
import { bridgePorts, countBroadcast, interfaceOf, pings } from '../../../fixtures/l2.ts';
import { addNetns, inodeUrlOf, ip, link, runNsm, spawnNsm, stopNsm, tempDir, uniquePrefix, waitFor, whyNoKernelTests } from '../../../fixtures/netns.ts';

const skip = whyNoKernelTests();
const isFile = (path: string) => {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
};

t.test('one bridge, three clients on one node', { skip, timeout: 180_000 }, async (t) => {
  const p = uniquePrefix('l2');
  const dir = tempDir(t, p);
  const [node, ep] = [addNetns(t, `${p}-node`), addNetns(t, `${p}-ep`)];
  const sock = `unix://${join(dir, 'nsm.sock')}`;
  spawnNsm(t, node, ['forwarder'], { NSM_NAME: `${p}-fwd`, NSM_LISTEN_ON: sock, NSM_PEER_LISTEN_ON: '', NSM_REGISTRY_DIR: join(dir, 'registry') });
  await waitFor('the forwarder socket', () => { try { return statSync(join(dir, 'nsm.sock')).isSocket(); } catch { return false; } });
  const bridgeEnv = {
    NSM_MODE: 'bridge', NSM_NAME: 'bridge', NSM_SERVICE_NAMES: 'l2', NSM_CIDR_PREFIX: '10.62.0.0/24', NSM_CONNECT_TO: sock,
    NSM_LISTEN_ON: `unix://${join(dir, 'bridge.sock')}`, NSM_MAX_TOKEN_LIFETIME: '5m', NSM_LOG_LEVEL: 'info',
  };
  const registration = join(dir, 'registry/networkserviceendpoints/bridge.json');
  // Waits for a registration written after the start, leaving any earlier one in place: a
  // registration removed tells the forwarder the endpoint is gone.
  const startBridge = async () => {
    const before = statSync(registration, { throwIfNoEntry: false })?.mtimeMs;
    const e = spawnNsm(t, ep, ['nse'], bridgeEnv);
    await waitFor('the bridge endpoint registration', () => {
      if (e.child.exitCode !== null) throw new Error(`the bridge endpoint exited: ${e.output()}`);
      return isFile(registration) && statSync(registration).mtimeMs !== before;
    }, 15_000);
    return e;
  };
  let endpoint = await startBridge();
  const clientEnv = (name: string) => ({
    NSM_NAME: name, NSM_NETWORK_SERVICES: 'kernel://l2/nsm-1', NSM_CONNECT_TO: sock, NSM_CONNECTIONS_DIR: join(dir, 'conns', name), NSM_INIT_TIMEOUT: '10s',
  });
  const names = ['c1', 'c2', 'c3'];
  const clients = names.map((n) => addNetns(t, `${p}-${n}`));
  for (const [i, name] of names.entries()) {
    const r = await runNsm(t, clients[i], ['nsc', 'init'], clientEnv(name));
    t.equal(r.code, 0, r.output);
  }
  const connection = (name: string) => JSON.parse(readFileSync(join(dir, 'conns', name, 'nsm-1.json'), 'utf8'));

  await t.test('each client gets an address of the subnet with its length, and the MAC its context names', async (t) => {
    t.same(clients.map((c) => interfaceOf(c)?.address), ['10.62.0.2', '10.62.0.3', '10.62.0.4'], 'the lowest free addresses after the bridge\'s');
    for (const [i, name] of names.entries()) {
      const conn = connection(name);
      t.same(conn.context.ipContext.srcIpAddrs, [`10.62.0.${i + 2}/24`], 'the prefix\'s length, not a host address');
      t.same(conn.context.ipContext.dstIpAddrs, ['10.62.0.1/24'], 'the bridge\'s address as the endpoint\'s');
      t.equal(conn.context.ethernetContext.srcMac, interfaceOf(clients[i])?.mac, 'the client interface has the MAC of its context');
    }
    t.same(JSON.parse(ip(['-n', ep, '-j', 'addr', 'show', 'dev', 'nsm-br']))[0].addr_info.filter((a: { family: string }) => a.family === 'inet').map((a: { local: string; prefixlen: number }) => `${a.local}/${a.prefixlen}`), ['10.62.0.1/24'], 'the bridge holds the first address');
    t.equal(bridgePorts(ep).length, 3, 'one port per client');
    t.notOk(bridgePorts(ep).some((x) => x.isolated), 'client ports are not isolated');
  });

  await t.test('each pair of clients pings, and each client the bridge', async (t) => {
    for (const [a, b] of [[0, 1], [1, 0], [0, 2], [2, 0], [1, 2], [2, 1]]) t.ok(pings(clients[a], `10.62.0.${b + 2}`).ok, `${names[a]} pings ${names[b]}`);
    for (const c of clients) t.ok(pings(c, '10.62.0.1').ok, 'pings the bridge');
  });

  await t.test('one broadcast ARP from a client reaches each other client exactly once', async (t) => {
    const counts = await countBroadcast(t, { netns: clients[0], ifname: 'nsm-1' }, '10.62.0.200', [1, 2].map((i) => ({ netns: clients[i], ifname: 'nsm-1' })));
    t.same(counts.first, [1, 1]);
    t.same(counts.later, [1, 1], 'and no more copies later');
  });

  await t.test('a client\'s Close removes only its port, its FDB entries and its address', async (t) => {
    const mac = connection('c2').context.ethernetContext.srcMac as string;
    t.ok(pings(clients[0], '10.62.0.3').ok, 'c1 talks to c2, so the bridge learns c2\'s MAC');
    const fdbOf = () => ip(['netns', 'exec', ep, 'bridge', 'fdb', 'show', 'br', 'nsm-br']);
    const fdb = () => fdbOf().split('\n').filter((l) => l.startsWith(mac)).length;
    t.ok(fdb() > 0, 'the bridge has learnt c2\'s MAC');
    const run = spawnNsm(t, clients[1], ['nsc', 'run'], { ...clientEnv('c2'), NSM_LOG_LEVEL: 'info' });
    await waitFor('nsc run to adopt c2\'s connection', () => /adopting the connection/.test(run.output()), 10_000);
    t.equal(await stopNsm(run), 0, `nsc run closes on SIGTERM: ${run.output()}`);
    t.equal(link(clients[1], 'nsm-1'), undefined, 'c2 has no interface any more');
    t.equal(bridgePorts(ep).length, 2, 'the other two ports stay');
    t.equal(fdb(), 0, `no FDB entry for c2's MAC is left: ${fdbOf()}`);
    t.notMatch(ip(['-n', ep, 'neigh', 'show', 'dev', 'nsm-br']), /10\.62\.0\.3 /, 'nor its neighbour entry');
    t.ok(pings(clients[0], '10.62.0.4').ok && pings(clients[2], '10.62.0.2').ok, 'c1 and c3 still reach each other');
    const again = await runNsm(t, clients[1], ['nsc', 'init'], clientEnv('c2b'));
    t.equal(again.code, 0, again.output);
    t.equal(interfaceOf(clients[1])?.address, '10.62.0.3', 'the released address goes to the next client');
  });

  // A crash, not a stop: an endpoint that stops unregisters, and the forwarder closes its connections.
  await t.test('a crashed and restarted endpoint re-adopts its bridge and ports instead of losing its clients', async (t) => {
    endpoint.child.kill('SIGKILL');
    t.equal(await endpoint.exited, null, 'the endpoint crashes');
    t.equal(bridgePorts(ep).length, 3, 'the bridge and its ports stay while it is away');
    t.ok(pings(clients[0], '10.62.0.4').ok, 'clients still reach each other');
    endpoint = await startBridge();
    await waitFor('the endpoint to say how it started', () => /"how":/.test(endpoint.output()), 5000);
    t.match(endpoint.output(), /"how":"adopted".*"heldForReturningClients":3/, `it adopts the bridge and holds the three addresses in use: ${endpoint.output()}`);
    const ifindex = link(clients[0], 'nsm-1')?.ifindex;
    const run = spawnNsm(t, clients[0], ['nsc', 'run'], clientEnv('c1'));
    await waitFor('c1 to refresh', () => /refreshed/.test(endpoint.output()) || connection('c1').path.pathSegments.at(-1)?.expires !== undefined, 5000);
    await new Promise((r) => setTimeout(r, 1500));
    t.equal(link(clients[0], 'nsm-1')?.ifindex, ifindex, 'c1 keeps its interface');
    t.same(connection('c1').context.ipContext.srcIpAddrs, ['10.62.0.2/24'], 'and its address');
    const c4 = addNetns(t, `${p}-c4`);
    const fourth = await runNsm(t, c4, ['nsc', 'init'], clientEnv('c4'));
    t.equal(fourth.code, 0, fourth.output);
    t.equal(interfaceOf(c4)?.address, '10.62.0.5', `a new client gets none of the addresses held for returning clients: ${endpoint.output()}`);
    t.ok(pings(c4, '10.62.0.2').ok && pings(c4, '10.62.0.4').ok, 'and reaches the clients from before the restart');
    await stopNsm(run);
  });

  await t.test('an exhausted pool answers RESOURCE_EXHAUSTED naming the pool', async (t) => {
    const tinyNs = addNetns(t, `${p}-tiny`);
    spawnNsm(t, tinyNs, ['nse'], {
      ...bridgeEnv, NSM_NAME: 'tiny', NSM_SERVICE_NAMES: 'l2-tiny', NSM_CIDR_PREFIX: '10.63.0.0/16', NSM_IP_POOL: '10.63.5.0/30', NSM_LISTEN_ON: `unix://${join(dir, 'tiny.sock')}`,
    });
    await waitFor('the tiny bridge', () => isFile(join(dir, 'registry/networkserviceendpoints/tiny.json')), 15_000);
    const [t1, t2] = [addNetns(t, `${p}-t1`), addNetns(t, `${p}-t2`)];
    const first = await runNsm(t, t1, ['nsc', 'init'], { ...clientEnv('t1'), NSM_NETWORK_SERVICES: 'kernel://l2-tiny/nsm-1' });
    t.equal(first.code, 0, first.output);
    t.equal(interfaceOf(t1)?.address, '10.63.5.2', 'a /30 pool: the bridge takes .1, one client .2');
    const request = (netns: string) => NetworkServiceRequest.toJSON({
      connection: Connection.fromPartial({ id: 't2-0', networkService: 'l2-tiny', path: { index: 0, pathSegments: [{ name: 't2', id: 't2-0' }] } }),
      mechanismPreferences: [kernelMechanism({ name: 'nsm-1', inodeURL: inodeUrlOf(netns) })],
    });
    const [answer] = await fromNamespace(t, t2, { forwarder: sock, calls: [{ kind: 'request', request: request(t2) }] });
    t.equal(answer.code, 'RESOURCE_EXHAUSTED', answer.message);
    t.match(answer.message, /address pool 10\.63\.5\.0\/30 is exhausted .*NSM_IP_POOL/);
    t.equal(link(t2, 'nsm-1'), undefined, 'nothing is left in the client');
  });
});

t.test('bad settings stop a bridge endpoint at start, naming the variable', { skip }, async (t) => {
  const p = uniquePrefix('l2x');
  const ns = addNetns(t, `${p}-ep`);
  const base = { NSM_MODE: 'bridge', NSM_NAME: 'bad', NSM_SERVICE_NAMES: 'l2', NSM_CONNECT_TO: 'unix:///nonexistent/nsm.sock', NSM_CIDR_PREFIX: '10.64.0.0/16' };
  for (const [env, why] of [
    [{ NSM_PAYLOAD: 'IP' }, /NSM_PAYLOAD=IP: a bridge endpoint \(NSM_MODE=bridge\) carries Ethernet frames.*NSM_PAYLOAD=ETHERNET/],
    [{ NSM_IP_POOL: '10.65.0.0/24' }, /NSM_IP_POOL=10\.65\.0\.0\/24 is not inside NSM_CIDR_PREFIX=10\.64\.0\.0\/16/],
    [{ NSM_IP_POOL: '10.64.0.0/33' }, /NSM_IP_POOL: .*is not an IPv4 CIDR/],
    [{ NSM_IP_POOL: '10.64.7.1/32' }, /NSM_IP_POOL=10\.64\.7\.1\/32 leaves no address for a client/],
    [{ NSM_BRIDGE_NAME: 'a-very-long-bridge-name' }, /NSM_BRIDGE_NAME: .*Linux allows at most 15/],
    [{ NSM_BRIDGE_NAME: 'lo' }, /NSM_BRIDGE_NAME=lo names an interface of this pod that is not a bridge/],
    [{ NSM_BRIDGE_DOMAIN: 'no spaces' }, /NSM_BRIDGE_DOMAIN: .*is not a valid name/],
    [{ NSM_MODE: 'hub' }, /NSM_MODE: .*expected one of p2p, bridge/],
  ] as const) {
    const r = await runNsm(t, ns, ['nse'], { ...base, ...env }, 15_000);
    t.not(r.code, 0, `refused: ${JSON.stringify(env)}`);
    t.match(r.output, why, r.output);
  }
  t.equal(link(ns, 'nsm-br'), undefined, 'no bridge was made for a refused setting');
});
