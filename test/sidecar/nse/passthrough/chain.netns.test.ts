import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { RegistryNetworkService } from '../../../../proto/api.ts';
import { interfaceOf, pings } from '../../../fixtures/l2.ts';
import { startMesh, type Mesh } from '../../../fixtures/mesh.ts';
import { addNetns, ip, links, spawnNsm, uniquePrefix, waitFor, whyNoKernelTests } from '../../../fixtures/netns.ts';

const skip = whyNoKernelTests() || (spawnSync('nft', ['--version']).status !== 0 && 'nftables (nft) is not installed');
const SERVICE = 'chain';

type Route = Record<string, string>;
/** Applies the NetworkService with its matches: each [source, destination] pair is one match with one route; an empty source matches every request. */
function applyService(mesh: Mesh, matches: Array<[Route, Route]>): void {
  const dir = join(mesh.dir, 'registry/networkservices');
  mkdirSync(dir, { recursive: true });
  const ns = RegistryNetworkService.fromPartial({
    name: SERVICE, payload: 'ETHERNET',
    matches: matches.map(([source, destination]) => ({ sourceSelector: source, routes: [{ destinationSelector: destination }] })),
  });
  writeFileSync(join(dir, `${SERVICE}.json.tmp`), JSON.stringify(RegistryNetworkService.toJSON(ns)));
  renameSync(join(dir, `${SERVICE}.json.tmp`), join(dir, `${SERVICE}.json`));
}

const CHAIN: Array<[Route, Route]> = [
  [{ app: 'firewall' }, { app: 'inspect' }],
  [{ app: 'inspect' }, { app: 'gateway' }],
  [{}, { app: 'firewall' }],
];

/** tcpdump of ICMP echo requests on every interface of a namespace, ending after `count` packets or `seconds`. */
function captureIcmp(netns: string, count: number, seconds: number): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', netns, 'timeout', String(seconds), 'tcpdump', '-i', 'any', '-nn', '-l', '-c', String(count), 'icmp[icmptype] == icmp-echo'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.on('exit', () => resolve(out));
  });
}

const throughBridges = (netns: string) => links(netns).filter((l) => /^nsmt[0-9a-f]{11}$/.test(l.ifname));

t.test('a service chain of two passthroughs: client → firewall → inspect → gateway, across two nodes', { skip, timeout: 240_000 }, async (t) => {
  const p = uniquePrefix('sc');
  const mesh = await startMesh(t, p, 2, '10.250.218', { NSM_MAX_TOKEN_LIFETIME: '8s' });
  applyService(mesh, CHAIN);
  const common = { NSM_REGISTER_SERVICE: 'false', NSM_PAYLOAD: 'ETHERNET', NSM_MAX_TOKEN_LIFETIME: '8s' };
  const pod = (name: string) => {
    const ns = addNetns(t, `${p}-${name}`);
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    return ns;
  };
  const fw = pod('fw');
  const inspect = pod('in');
  const gw = pod('gw');
  const endpoint = (node: number, ns: string, name: string, labels: string, mode = 'passthrough') => mesh.startEndpoint(node, ns, name, SERVICE, '172.31.7.0/24', { ...common, NSM_MODE: mode, NSM_LABELS: labels });
  const firewall = await endpoint(0, fw, 'firewall-1', 'app=firewall');
  const inspector = await endpoint(1, inspect, 'inspect-1', 'app=inspect');
  await endpoint(1, gw, 'gateway-1', 'app=gateway', 'p2p');

  const client = pod('c1');
  const clientEnv = (name: string) => ({ NSM_NAME: name, NSM_NETWORK_SERVICES: `kernel://${SERVICE}/nsm-1`, NSM_CONNECT_TO: `unix://${mesh.nodes[0].socket}`, NSM_CONNECTIONS_DIR: join(mesh.dir, 'conns', name), NSM_INIT_TIMEOUT: '20s' });
  const init = await mesh.init(0, client, 'client-1', SERVICE, clientEnv('client-1'));
  t.equal(init.code, 0, init.output);
  spawnNsm(t, client, ['nsc', 'run'], clientEnv('client-1'));
  const conn = () => mesh.connection('client-1') as unknown as { networkServiceEndpointName: string; path: { pathSegments: Array<{ name: string }> }; context: { ipContext: { srcIpAddrs: string[]; srcRoutes: Array<{ prefix: string }> } } };
  const gatewayAddress = conn().context.ipContext.srcRoutes[0]?.prefix.split('/')[0] ?? '';
  /** The gateway's address as the client has it now (a client that reconnected may have another pair). */
  const gatewayNow = () => conn().context.ipContext.srcRoutes[0]?.prefix.split('/')[0] ?? '';

  await t.test('the client pings the gateway through both passthroughs; each sees the packets; the path lists every hop in order', async (t) => {
    const [n1, n2] = [`${p}-node1`, `${p}-node2`];
    t.same(conn().path.pathSegments.map((s) => s.name), ['client-1', n1, 'firewall-1', n1, n2, 'inspect-1', n2, 'gateway-1'], 'client, firewall, inspect and gateway, with the forwarders between');
    t.match(conn().context.ipContext.srcIpAddrs[0], /^172\.31\.7\.\d+\/32$/, 'the client has the address the gateway handed out');
    t.equal(conn().networkServiceEndpointName, 'firewall-1', 'the client\'s own hop is the chain\'s first function');
    const seen = [captureIcmp(fw, 2, 8), captureIcmp(inspect, 2, 8)];
    await new Promise((r) => setTimeout(r, 1000));
    t.ok(pings(client, gatewayAddress).ok, `the client pings the gateway at ${gatewayAddress}`);
    spawnSync('ip', ['netns', 'exec', client, 'ping', '-c', '2', '-i', '0.2', '-W', '1', gatewayAddress], { timeout: 5000 });
    const [atFirewall, atInspect] = await Promise.all(seen);
    t.match(atFirewall, new RegExp(`> ${gatewayAddress.replaceAll('.', '\\.')}: ICMP echo request`), 'tcpdump in the firewall pod sees the echo requests');
    t.match(atInspect, new RegExp(`> ${gatewayAddress.replaceAll('.', '\\.')}: ICMP echo request`), 'tcpdump in the inspect pod sees them too');
    t.equal(interfaceOf(client)?.mtu, 1450, 'the client\'s MTU is the smallest on the path: the VXLAN hop');
    t.equal(throughBridges(fw).length, 1, 'the firewall joins the two interfaces with one two-port bridge');
  });

  await t.test('a firewall rule on the bridge drops TCP to port 5201 and lets ping through', async (t) => {
    // `ip netns exec` becomes iperf3 itself, so its pid is the server's.
    const iperf = spawn('ip', ['netns', 'exec', gw, 'iperf3', '-s', '-B', gatewayAddress], { stdio: 'ignore' });
    t.teardown(() => iperf.kill('SIGKILL'));
    const tcp = () => spawnSync('ip', ['netns', 'exec', client, 'timeout', '6', 'iperf3', '-c', gatewayAddress, '-t', '1', '--connect-timeout', '2000'], { encoding: 'utf8', timeout: 10_000 });
    await waitFor('the iperf3 server in the gateway pod', () => tcp().status === 0, 10_000);
    const nft = (rules: string) => spawnSync('ip', ['netns', 'exec', fw, 'nft', '-f', '-'], { input: rules, encoding: 'utf8' });
    const loaded = nft('table bridge firewall {\n  chain forward {\n    type filter hook forward priority 0;\n    tcp dport 5201 drop\n  }\n}\n');
    t.equal(loaded.status, 0, `the rule is loaded in the firewall pod ${loaded.stderr}`);
    t.not(tcp().status, 0, 'TCP to port 5201 no longer gets through');
    t.ok(pings(client, gatewayAddress).ok, 'ping still does');
    t.match(spawnSync('ip', ['netns', 'exec', fw, 'nft', 'list', 'ruleset'], { encoding: 'utf8' }).stdout, /tcp dport 5201 drop/, 'the rule is what dropped it');
    nft('delete table bridge firewall');
    t.equal(tcp().status, 0, 'without the rule TCP passes again');
  });

  await t.test('a chain whose matches route a passthrough to itself is refused, and leaves nothing in its pod', async (t) => {
    applyService(mesh, [[{ app: 'firewall' }, { app: 'firewall' }], ...CHAIN.slice(1)]);
    await new Promise((r) => setTimeout(r, 500));
    const bridges = throughBridges(fw).length;
    const other = pod('c2');
    const r = await mesh.init(0, other, 'client-2', SERVICE, { ...clientEnv('client-2'), NSM_INIT_TIMEOUT: '3s' });
    t.not(r.code, 0, 'the request fails');
    t.match(r.output, /route passthrough firewall-1 back to itself/, 'naming the passthrough that loops');
    t.equal(throughBridges(fw).length, bridges, 'no bridge is left behind for it');
    applyService(mesh, CHAIN);
  });

  await t.test('new matches send new connections along the new chain', async (t) => {
    applyService(mesh, [[{ app: 'inspect' }, { app: 'gateway' }], [{}, { app: 'inspect' }]]);
    await new Promise((r) => setTimeout(r, 500));
    const other = pod('c3');
    const r = await mesh.init(0, other, 'client-3', SERVICE, clientEnv('client-3'));
    t.equal(r.code, 0, r.output);
    const names = (mesh.connection('client-3') as unknown as { path: { pathSegments: Array<{ name: string }> } }).path.pathSegments.map((s) => s.name);
    t.same(names.filter((n) => !n.startsWith(p)), ['client-3', 'inspect-1', 'gateway-1'], 'the firewall is no longer on the path');
    const itsGateway = (mesh.connection('client-3') as unknown as { context: { ipContext: { srcRoutes: Array<{ prefix: string }> } } }).context.ipContext.srcRoutes[0]?.prefix.split('/')[0] ?? '';
    t.ok(pings(other, itsGateway).ok, `and it reaches the gateway at ${itsGateway}`);
    applyService(mesh, CHAIN);
  });

  await t.test('the firewall pod deleted: the client heals through another firewall', async (t) => {
    const fw2 = pod('fw2');
    await endpoint(0, fw2, 'firewall-2', 'app=firewall');
    firewall.child.kill('SIGKILL');
    await firewall.exited;
    ip(['netns', 'del', fw]);
    await waitFor('the client to be connected through firewall-2', () => {
      try {
        return conn().networkServiceEndpointName === 'firewall-2';
      } catch {
        return false;
      }
    }, 30_000);
    await waitFor('the client to reach the gateway again', () => pings(client, gatewayNow()).ok, 15_000);
    t.ok(conn().path.pathSegments.map((s) => s.name).includes('inspect-1'), 'through the rest of the chain as before');
  });

  await t.test('the next function deleted: the passthrough heals its onward connection through another of that role', async (t) => {
    const inspect2 = pod('in2');
    const second = await endpoint(1, inspect2, 'inspect-2', 'app=inspect');
    inspector.child.kill('SIGKILL');
    await inspector.exited;
    ip(['netns', 'del', inspect]);
    await waitFor('the client\'s path to go through inspect-2 (the firewall healed, the client refreshed)', () => conn().path.pathSegments.some((s) => s.name === 'inspect-2'), 30_000);
    await waitFor('the client to reach the gateway through inspect-2', () => pings(client, gatewayNow()).ok, 15_000);
    t.same(conn().path.pathSegments.map((s) => s.name).filter((n) => !n.startsWith(p)), ['client-1', 'firewall-2', 'inspect-2', 'gateway-1'], 'the same client connection, the same firewall, the new inspect');

    second.child.kill('SIGKILL');
    await second.exited;
    const other = pod('c4');
    const r = await mesh.init(0, other, 'client-4', SERVICE, { ...clientEnv('client-4'), NSM_INIT_TIMEOUT: '4s' });
    t.not(r.code, 0, 'with no inspect left, a new connection fails');
    t.match(r.output, /passthrough firewall-2 could not reach the next function of the chain/, 'naming the hop that could not go on');
    await waitFor('the firewall to keep only the bridge of the connection it still has', () => throughBridges(`${p}-fw2`).length === 1, 10_000)
      .catch((err: Error) => { throw new Error(`${err.message}: it has ${throughBridges(`${p}-fw2`).length}`); });
    t.pass('the refused connections left no bridge in the firewall pod');
  });
});
