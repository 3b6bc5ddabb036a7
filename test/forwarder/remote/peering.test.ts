import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import t from 'tap';
import { Connection, kernelMechanism, vxlanMechanism } from '../../../proto/api.ts';
import { formatInodeUrl } from '../../../sdk/netns.ts';
import { startForwarder } from '../../../forwarder/server.ts';
import { formatAddress } from '../../../sdk/grpc/address.ts';
import { NetworkServiceClient } from '../../../sdk/grpc/networkservice-client.ts';
import { mutualTlsDialOptions, PEER_SERVER_NAME } from '../../../sdk/grpc/tls.ts';
import { silentLogger } from '../../../sdk/log.ts';
import { openDirRegistry } from '../../../sdk/registry/dir-backend.ts';
import { makeCa, makeLeaf } from '../../fixtures/certs.ts';
import { RecordingRunner } from '../../fixtures/kernel.ts';
import { addNetns, ip, runNsm, spawnNsm, stopNsm, tempDir, uniquePrefix, waitFor, whyNoKernelTests } from '../../fixtures/netns.ts';

const tunnels = { underlay: { ip: '127.0.0.1', ifname: 'lo', mtu: 65536 }, vxlanPort: 4789, order: ['VXLAN' as const], linkTypes: { vxlan: { available: true } } };
const request = { connection: Connection.fromPartial({ id: 'peer-1', networkService: 'nothing-here', path: { index: 0, pathSegments: [{ name: 'other', id: 'peer-1' }] } }), mechanismPreferences: [vxlanMechanism({ srcIp: '127.0.0.2', srcPort: 4789 })] };

t.test('the peer port serves only forwarders holding a certificate from the CA', async (t) => {
  const dir = tempDir(t, 'peer');
  const ca = makeCa(dir, 'ca');
  const rogueCa = makeCa(dir, 'rogue-ca');
  const leaf = makeLeaf(dir, 'node-a', ca);
  const other = makeLeaf(dir, 'node-b', ca);
  const rogue = makeLeaf(dir, 'rogue', rogueCa);
  const registry = await openDirRegistry(join(dir, 'registry'));
  const f = await startForwarder({
    name: 'node-a', listenOn: `unix://${join(dir, 'a.sock')}`, registry, runner: new RecordingRunner(), log: silentLogger(),
    connectionLifetimeMs: 60_000, registrationLifetimeMs: 60_000, dialTimeoutMs: 500, requestTimeoutMs: 2000, adopt: false,
    peering: { listenOn: 'tcp://127.0.0.1:0', tls: { caFile: ca.cert, certFile: leaf.cert, keyFile: leaf.key }, tunnels },
  });
  t.teardown(async () => {
    await f.stop();
    await registry.close();
  });
  t.match(f.peering!.url, /^tcp:\/\/127\.0\.0\.1:\d+$/, 'the published URL is the tunnel address and the peer port');
  const address = formatAddress(f.peering!.server.address);

  await t.rejects(NetworkServiceClient.dial(address, { credentials: credentials.createSsl(readFileSync(ca.cert)), channelOptions: { 'grpc.ssl_target_name_override': PEER_SERVER_NAME }, dialTimeoutMs: 1000 }), { code: 'UNAVAILABLE' }, 'no client certificate: refused');
  await t.rejects(NetworkServiceClient.dial(address, { ...mutualTlsDialOptions({ caFile: ca.cert, certFile: rogue.cert, keyFile: rogue.key }), dialTimeoutMs: 1000 }), { code: 'UNAVAILABLE' }, 'a certificate from another CA: refused');
  await t.rejects(NetworkServiceClient.dial(address, { dialTimeoutMs: 1000 }), { code: 'UNAVAILABLE' }, 'plaintext: refused');

  const peer = await NetworkServiceClient.dial(address, { ...mutualTlsDialOptions({ caFile: ca.cert, certFile: other.cert, keyFile: other.key }), dialTimeoutMs: 2000 });
  t.teardown(() => peer.shutdown());
  await t.rejects(peer.request(request, { timeoutMs: 2000 }), { code: 'NOT_FOUND', message: /network service "nothing-here" is not registered/ }, 'a peer from the CA reaches the chain');
  const ownNetns = formatInodeUrl(statSync('/proc/self/ns/net'));
  await t.rejects(
    peer.request({ ...request, mechanismPreferences: [kernelMechanism({ name: 'nsm-1', inodeURL: ownNetns })] }, { timeoutMs: 2000 }),
    { code: 'PERMISSION_DENIED', message: /a peer forwarder may not ask for a KERNEL \(LOCAL\) mechanism: it is trusted for the path it carries, never for a network namespace of this node/ },
    'a peer may not name a namespace of this node',
  );
});

t.test('nsm forwarder: TLS files are required for peering unless NSM_INSECURE=true', { skip: whyNoKernelTests() }, async (t) => {
  const p = uniquePrefix('pt');
  const ns = addNetns(t, `${p}-n`);
  const dir = tempDir(t, p);
  const env = { NSM_NAME: 'n', NSM_LISTEN_ON: `unix://${join(dir, 'nsm.sock')}`, NSM_REGISTRY_DIR: join(dir, 'registry') };
  const r = await runNsm(t, ns, ['forwarder'], env, 15_000);
  t.equal(r.code, 1);
  t.match(r.output, /NSM_TLS_CA_FILE is not set: peering needs mutual TLS \(or NSM_INSECURE=true/);
  t.match(r.output, /or set NSM_PEER_LISTEN_ON= \(empty\) for a single-node forwarder/, 'and how to run without peering');

  ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  const insecure = spawnNsm(t, ns, ['forwarder'], { ...env, NSM_INSECURE: 'true', NSM_TUNNEL_IP: '127.0.0.1' });
  await waitFor('the insecure forwarder', () => {
    if (insecure.child.exitCode !== null) throw new Error(insecure.output());
    return insecure.output().includes('plaintext') && existsSync(join(dir, 'nsm.sock'));
  }, 15_000);
  t.match(insecure.output(), /NSM_INSECURE=true: peering with other forwarders is plaintext and unauthenticated/, 'plaintext peering is logged as a warning');
  t.equal(await stopNsm(insecure), 0);
});
