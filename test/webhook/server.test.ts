import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, copyFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import t from 'tap';
import { silentLogger } from '../../sdk/log.ts';
import { createMetrics } from '../../webhook/metrics.ts';
import { startServer } from '../../webhook/server.ts';
import { makeCa, makeLeaf } from '../fixtures/certs.ts';
import { testConfig } from '../fixtures/webhook/config.ts';

/** A directory laid out like a mounted Secret: files are symlinks through `..data`, swapped atomically. */
function secretVolume(root: string) {
  const dir = join(root, 'tls');
  mkdirSync(dir);
  let n = 0;
  const publish = (cert: string, key: string) => {
    const version = join(dir, `..v${++n}`);
    mkdirSync(version);
    copyFileSync(cert, join(version, 'tls.crt'));
    copyFileSync(key, join(version, 'tls.key'));
    symlinkSync(`..v${n}`, join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  };
  return {
    dir,
    publish,
    link() {
      symlinkSync('..data/tls.crt', join(dir, 'tls.crt'));
      symlinkSync('..data/tls.key', join(dir, 'tls.key'));
    },
  };
}

function peer(port: number, ca: Buffer, opts: { maxVersion?: 'TLSv1.1' | 'TLSv1.2' } = {}): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, ca, servername: 'localhost', ...opts }, () => {
      const cert = s.getPeerCertificate();
      s.end();
      resolve(cert);
    });
    s.on('error', reject);
  });
}

function post(port: number, ca: Buffer, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, ca, servername: 'localhost', path, method: body === undefined ? 'GET' : 'POST', headers: { 'content-type': 'application/json' }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString() || 'null') }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

t.test('HTTPS with a generated CA, TLS 1.2+, readiness, certificate rotation without restart, drain', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'nsm-webhook-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const ca = makeCa(root, 'ca');
  const first = makeLeaf(root, 'first', ca);
  const second = makeLeaf(root, 'second', ca);
  const caPem = readFileSync(ca.cert);
  const vol = secretVolume(root);
  vol.publish(first.cert, first.key);
  vol.link();
  let synced = false;
  const server = await startServer({
    listenOn: '127.0.0.1:0',
    metricsListenOn: '127.0.0.1:0',
    certFile: join(vol.dir, 'tls.crt'),
    keyFile: join(vol.dir, 'tls.key'),
    config: testConfig(),
    namespaces: (name) => ({ name, labels: {}, annotations: {} }),
    dependenciesReady: () => synced,
    metrics: createMetrics(),
    logger: silentLogger(),
    drainPeriodMs: 200,
    tlsWatch: { debounceMs: 20, pollMs: 60_000 },
  });
  let drained = false;
  t.teardown(async () => {
    if (!drained) await server.drain();
  });

  t.equal((await peer(server.port, caPem)).subject.CN, 'first');
  await t.rejects(peer(server.port, caPem, { maxVersion: 'TLSv1.1' }), 'TLS 1.1 refused');
  t.equal((await post(server.port, caPem, '/readyz')).status, 503, 'not ready before the namespace cache syncs');
  synced = true;
  t.equal((await post(server.port, caPem, '/readyz')).status, 200);
  const review = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'x1', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', namespace: 'demo', object: { metadata: { name: 'p', annotations: { 'networkservicemesh.io': 'kernel://a/nsm-1' } }, spec: { containers: [{ name: 'a', image: 'a' }] } } } };
  const res = await post(server.port, caPem, '/mutate', review);
  t.equal(res.status, 200);
  t.equal(res.json.response.patchType, 'JSONPatch');

  vol.publish(second.cert, second.key);
  const deadline = Date.now() + 5000;
  let cn: unknown = '';
  while (Date.now() < deadline && (cn = (await peer(server.port, caPem)).subject.CN) !== 'second') await new Promise((r) => setTimeout(r, 25));
  t.equal(cn, 'second', 'new certificate served after the ..data swap, no restart');
  t.equal((await post(server.port, caPem, '/mutate', review)).status, 200, 'still serving');

  const metrics = await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`).then((r) => r.text());
  t.match(metrics, /nsm_webhook_tls_reloads_total\{result="ok"\} 1/);
  t.match(metrics, /nsm_webhook_injections_total/);

  const draining = server.drain();
  drained = true;
  t.equal((await post(server.port, caPem, '/readyz')).status, 503, 'readiness fails while draining');
  t.equal((await post(server.port, caPem, '/mutate', review)).status, 200, 'requests still answered while draining');
  await draining;
  await t.rejects(post(server.port, caPem, '/healthz'), 'closed after the drain period');
});

t.test('a missing certificate stops the start with a message naming the variables', async (t) => {
  await t.rejects(
    startServer({
      listenOn: '127.0.0.1:0', metricsListenOn: '127.0.0.1:0', certFile: '/nonexistent/tls.crt', keyFile: '/nonexistent/tls.key',
      config: testConfig(), namespaces: () => undefined, dependenciesReady: () => true, metrics: createMetrics(), logger: silentLogger(),
    }),
    { message: /NSM_CERT_FILE_PATH=\/nonexistent\/tls.crt/ },
  );
});
