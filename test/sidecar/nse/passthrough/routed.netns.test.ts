import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { RegistryNetworkService } from '../../../../proto/api.ts';
import { pings } from '../../../fixtures/l2.ts';
import { startMesh } from '../../../fixtures/mesh.ts';
import { addNetns, addresses, ip, links, uniquePrefix, waitFor, whyNoKernelTests } from '../../../fixtures/netns.ts';

const skip = whyNoKernelTests() || (spawnSync('nft', ['--version']).status !== 0 && 'nftables (nft) is not installed');
const SERVICE = 'routed-chain';

t.test('IP payload: a passthrough routes between its two interfaces and holds neither end\'s address', { skip, timeout: 120_000 }, async (t) => {
  const p = uniquePrefix('rc');
  const mesh = await startMesh(t, p, 1, '10.250.219');
  mkdirSync(join(mesh.dir, 'registry/networkservices'), { recursive: true });
  const ns = RegistryNetworkService.fromPartial({
    name: SERVICE, payload: 'IP',
    matches: [
      { sourceSelector: { app: 'router' }, routes: [{ destinationSelector: { app: 'gateway' } }] },
      { sourceSelector: {}, routes: [{ destinationSelector: { app: 'router' } }] },
    ],
  });
  writeFileSync(join(mesh.dir, 'registry/networkservices', `${SERVICE}.json`), JSON.stringify(RegistryNetworkService.toJSON(ns)));
  const [router, gw, client] = ['rt', 'gw', 'c1'].map((n) => addNetns(t, `${p}-${n}`));
  for (const n of [router, gw, client]) ip(['-n', n, 'link', 'set', 'lo', 'up']);
  const common = { NSM_REGISTER_SERVICE: 'false', NSM_PAYLOAD: 'IP' };
  await mesh.startEndpoint(0, router, 'router-1', SERVICE, '172.31.9.0/24', { ...common, NSM_MODE: 'passthrough', NSM_LABELS: 'app=router' });
  await mesh.startEndpoint(0, gw, 'gateway-1', SERVICE, '172.31.9.0/24', { ...common, NSM_MODE: 'p2p', NSM_LABELS: 'app=gateway' });
  const init = await mesh.init(0, client, 'client-1', SERVICE);
  t.equal(init.code, 0, init.output);
  const conn = mesh.connection('client-1') as unknown as { path: { pathSegments: Array<{ name: string }> }; context: { ipContext: { srcIpAddrs: string[]; srcRoutes: Array<{ prefix: string }> } } };
  const gatewayAddress = conn.context.ipContext.srcRoutes[0].prefix.split('/')[0];
  const clientAddress = conn.context.ipContext.srcIpAddrs[0];
  t.same(conn.path.pathSegments.map((s) => s.name).filter((n) => !n.startsWith(p)), ['client-1', 'router-1', 'gateway-1'], 'the path: client, router, gateway');
  // The router answers the client's ARP by proxy, which the kernel delays by up to 0.8 s (proxy_delay).
  const first = await waitFor('a reply through the router', () => pings(client, gatewayAddress).ok, 5000).catch(() => false);
  t.ok(first, 'the client pings the gateway through the router');
  const routerEnds = links(router).filter((l) => l.ifname.startsWith('nsm'));
  t.equal(routerEnds.length, 2, 'the router has the incoming and the onward end, and no bridge');
  t.same(routerEnds.flatMap((l) => addresses(router, l.ifname)), [], `neither end holds an address (the client's ${clientAddress} stays the client's)`);
  const nft = (rules: string) => spawnSync('ip', ['netns', 'exec', router, 'nft', '-f', '-'], { input: rules, encoding: 'utf8' });
  t.equal(nft('table inet firewall {\n  chain forward {\n    type filter hook forward priority 0;\n    icmp type echo-request drop\n  }\n}\n').status, 0, 'a rule on the router\'s forward path');
  t.notOk(pings(client, gatewayAddress).ok, 'drops the echo requests');
  nft('delete table inet firewall');
  t.ok(pings(client, gatewayAddress).ok, 'and without it they pass again');
});
