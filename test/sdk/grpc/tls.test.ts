import t from 'tap';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { credentials } from '@grpc/grpc-js';
import { NetworkServiceRequest } from '../../../proto/api.ts';
import { chain } from '../../../sdk/chain/chain.ts';
import { formatAddress } from '../../../sdk/grpc/address.ts';
import { peerKey, type Peer } from '../../../sdk/grpc/call-ctx.ts';
import { NetworkServiceClient } from '../../../sdk/grpc/networkservice-client.ts';
import { networkServiceBinding } from '../../../sdk/grpc/networkservice-server.ts';
import { startGrpcServer } from '../../../sdk/grpc/server.ts';
import { checkTlsFiles, mutualTlsDialOptions, mutualTlsServerCredentials, PEER_SERVER_NAME } from '../../../sdk/grpc/tls.ts';
import { silentLogger } from '../../../sdk/log.ts';
import { makeCa, makeLeaf } from '../../fixtures/certs.ts';
import { sleep } from '../../fixtures/chain-probes.ts';

const dir = mkdtempSync(join(tmpdir(), 'nsm-tls-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const ca = makeCa(dir, 'peer-ca');
const rogueCa = makeCa(dir, 'rogue-ca');
const nodeA = makeLeaf(dir, 'node-a', ca);
const nodeB = makeLeaf(dir, 'node-b', ca);
const rogue = makeLeaf(dir, 'rogue', rogueCa);
const serverCa = join(dir, 'server-ca-bundle.crt');
copyFileSync(ca.cert, serverCa);

const req = NetworkServiceRequest.fromPartial({ connection: { id: 'peer-1', networkService: 'svc' } });

t.test('mutual TLS peering: only certificates from the CA get through', async (t) => {
  const server = await startGrpcServer({
    listenOn: 'tcp://127.0.0.1:0',
    services: [networkServiceBinding(chain([{ name: 'peer-probe', request: async (ctx, r, next) => { seen.push(peerKey.get(ctx)!); return next.request(ctx, r); } }]), silentLogger())],
    credentials: mutualTlsServerCredentials({ caFile: serverCa, certFile: nodeB.cert, keyFile: nodeB.key, refreshIntervalMs: 100 }),
  });
  t.teardown(() => server.stop(100));
  const address = formatAddress(server.address);
  const seen: Peer[] = [];

  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  t.teardown(() => void process.off('warning', onWarning));
  const good = await NetworkServiceClient.dial(address, { ...mutualTlsDialOptions({ caFile: ca.cert, certFile: nodeA.cert, keyFile: nodeA.key }), dialTimeoutMs: 3000 });
  t.equal((await good.request(req, { timeoutMs: 3000 })).id, 'peer-1', 'a peer with a CA certificate is served');
  t.match(seen[0]?.address, /^127\.0\.0\.1:\d+$/, 'the call context names the caller');
  t.same(seen[0]?.certificate, new X509Certificate(readFileSync(nodeA.cert)).raw, 'the call context carries the caller\'s certificate');
  await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
  t.same(warnings, [], 'dialling a peer by IP sends no IP as the TLS server name (no DEP0123 warning)');
  good.shutdown();

  const noCert = credentials.createSsl(readFileSync(ca.cert));
  await t.rejects(NetworkServiceClient.dial(address, { credentials: noCert, channelOptions: { 'grpc.ssl_target_name_override': PEER_SERVER_NAME }, dialTimeoutMs: 1000 }), { code: 'UNAVAILABLE' }, 'a peer without a client certificate is refused');

  const rogueCreds = () => mutualTlsDialOptions({ caFile: ca.cert, certFile: rogue.cert, keyFile: rogue.key });
  await t.rejects(NetworkServiceClient.dial(address, { ...rogueCreds(), dialTimeoutMs: 1000 }), { code: 'UNAVAILABLE' }, 'a certificate from another CA is refused');

  writeFileSync(serverCa, readFileSync(ca.cert, 'utf8') + readFileSync(rogueCa.cert, 'utf8'));
  let accepted = false;
  for (let i = 0; i < 30 && !accepted; i++) {
    await sleep(200);
    const c = await NetworkServiceClient.dial(address, { ...rogueCreds(), dialTimeoutMs: 500 }).catch(() => undefined);
    if (c) {
      accepted = (await c.request(req, { timeoutMs: 2000 }).then(() => true, () => false));
      c.shutdown();
    }
  }
  t.ok(accepted, 'a CA bundle rotated on disk applies without restarting the server');
});

t.test('missing TLS files are named at start', async (t) => {
  t.throws(() => checkTlsFiles({ caFile: '', certFile: nodeA.cert, keyFile: nodeA.key }), /NSM_TLS_CA_FILE is not set: peering needs mutual TLS \(or NSM_INSECURE=true/);
  t.throws(() => checkTlsFiles({ caFile: ca.cert, certFile: join(dir, 'nope.crt'), keyFile: nodeA.key }), /NSM_TLS_CERT_FILE=.*nope\.crt cannot be read/);
  t.doesNotThrow(() => checkTlsFiles({ caFile: ca.cert, certFile: nodeA.cert, keyFile: nodeA.key }));
});
