/**
 * Child process of bench/webhook.ts, one per server so that none shares a heap or compiled code
 * with another: `real` (the webhook, with the speed devices named in the fourth argument turned
 * off) or `null` (same fastify HTTPS stack, answers allowed with no patch). Listens on loopback and
 * reports its port over IPC.
 */
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import { silentLogger } from '../sdk/log.ts';
import { loadConfig } from '../sdk/config/index.ts';
import { injectionEnv } from '../webhook/env.ts';
import { injectionConfigFromEnv } from '../webhook/injection-config.ts';
import { createMetrics } from '../webhook/metrics.ts';
import { startServer } from '../webhook/server.ts';

const [certFile, keyFile, which, off = ''] = process.argv.slice(2);
// The real webhook with the speed devices named in `off` (comma-separated) turned off.
const without = new Set(off.split(',').filter(Boolean));
const real = which !== 'real' ? undefined : await startServer({
  listenOn: '127.0.0.1:0',
  metricsListenOn: '127.0.0.1:0',
  certFile,
  keyFile,
  config: injectionConfigFromEnv(loadConfig(injectionEnv, { NSM_LABELS: 'spiffe.io/spiffe-id=true' }), false),
  namespaces: (name) => ({ name, labels: { 'kubernetes.io/metadata.name': name }, annotations: {} }),
  dependenciesReady: () => true,
  speedDevices: { decisionCache: !without.has('decision-cache') },
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

const port = real?.port ?? (nullApp?.server.address() as { port: number } | undefined)?.port;
if (port === undefined) throw new Error(`no server called ${JSON.stringify(which)}: real or null`);
process.send?.({ port });
// The bench asks for this process's CPU time around each run.
process.on('message', (m) => {
  if (m === 'cpu') process.send?.({ cpu: process.cpuUsage() });
});
process.on('disconnect', () => {
  void Promise.all([real?.drain(), nullApp?.close()]).finally(() => process.exit(0));
});
