/**
 * Child process of bench/webhook.ts, one per server so that none shares a heap or compiled code
 * with another: `real` (the webhook), `null` (same fastify HTTPS stack, answers allowed with no
 * patch) or `sized` (the null answering with a fixed patch). Listens on loopback and reports its
 * port over IPC.
 */
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import { silentLogger } from '../sdk/log.ts';
import { loadConfig } from '../sdk/config/index.ts';
import { injectionEnv } from '../webhook/env.ts';
import { injectionConfigFromEnv } from '../webhook/injection-config.ts';
import { createMetrics } from '../webhook/metrics.ts';
import { startServer } from '../webhook/server.ts';

const [certFile, keyFile, which] = process.argv.slice(2);
const real = which !== 'real' ? undefined : await startServer({
  listenOn: '127.0.0.1:0',
  metricsListenOn: '127.0.0.1:0',
  certFile,
  keyFile,
  config: injectionConfigFromEnv(loadConfig(injectionEnv, { NSM_LABELS: 'spiffe.io/spiffe-id=true' }), false),
  namespaces: (name) => ({ name, labels: { 'kubernetes.io/metadata.name': name }, annotations: {} }),
  dependenciesReady: () => true,
  metrics: createMetrics(),
  logger: silentLogger(),
});

const nullApp = which !== 'null' ? undefined : Fastify({ https: { cert: readFileSync(certFile), key: readFileSync(keyFile), minVersion: 'TLSv1.2' }, keepAliveTimeout: 90_000 });
nullApp?.post<{ Body: { request: { uid: string } } }>('/mutate', async (req) => ({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  response: { uid: req.body.request.uid, allowed: true },
}));
await nullApp?.listen({ host: '127.0.0.1', port: 0 });

// A reference, not the target's baseline: the null webhook answering with a fixed patch (the bench
// hands it the real webhook's patch), so it pays for carrying the patch but does no injection.
let fixedPatch = '';
const sizedApp = which !== 'sized' ? undefined : Fastify({ https: { cert: readFileSync(certFile), key: readFileSync(keyFile), minVersion: 'TLSv1.2' }, keepAliveTimeout: 90_000 });
sizedApp?.post<{ Body: { request: { uid: string } } }>('/mutate', async (req) => ({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  response: { uid: req.body.request.uid, allowed: true, patchType: 'JSONPatch', patch: fixedPatch },
}));
await sizedApp?.listen({ host: '127.0.0.1', port: 0 });

const port = real?.port ?? ((nullApp ?? sizedApp)?.server.address() as { port: number } | undefined)?.port;
if (port === undefined) throw new Error(`no server called ${JSON.stringify(which)}: real, null or sized`);
process.send?.({ port });
// The bench asks for this process's CPU time around each run.
process.on('message', (m) => {
  if (m === 'cpu') process.send?.({ cpu: process.cpuUsage() });
  else if (typeof m === 'object' && m !== null && typeof (m as { patch?: unknown }).patch === 'string') {
    fixedPatch = (m as { patch: string }).patch;
    process.send?.({ patchSet: true });
  }
});
process.on('disconnect', async () => {
  await Promise.all([real?.drain(), nullApp?.close(), sizedApp?.close()]);
  process.exit(0);
});
