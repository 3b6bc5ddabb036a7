import { KubeConfig } from '@kubernetes/client-node';
import { collectDefaultMetrics } from 'prom-client';
import { defineCommand } from '../sdk/cli.ts';
import { createLogger } from '../sdk/log.ts';
import { webhookEnv } from './env.ts';
import { injectionConfigFromEnv, resolveNativeSidecar } from './injection-config.ts';
import { serverMinorVersion } from './kube-version.ts';
import { createMetrics } from './metrics.ts';
import { startNamespaceCache } from './namespace-cache.ts';
import { startServer } from './server.ts';
import { stopSignal } from '../sdk/stop-signal.ts';


export default defineCommand({
  summary: 'mutating admission webhook that injects the NSM client into annotated pods',
  env: webhookEnv,
  run: async (env) => {
    const stopped = stopSignal();
    const logger = createLogger('nsm-webhook', env.NSM_LOG_LEVEL);
    const kc = new KubeConfig();
    kc.loadFromDefault();
    const minor = env.NSM_NATIVE_SIDECAR === 'auto' ? await serverMinorVersion(kc, 5000) : undefined;
    const native = resolveNativeSidecar(env.NSM_NATIVE_SIDECAR, minor);
    logger.info({ mode: env.NSM_NATIVE_SIDECAR, serverMinor: minor, native }, 'native sidecar mode');
    const metrics = createMetrics();
    collectDefaultMetrics({ register: metrics.registry });
    const namespaces = startNamespaceCache(kc, logger);
    const server = await startServer({
      listenOn: env.NSM_LISTEN_ON,
      metricsListenOn: env.NSM_METRICS_LISTEN_ON,
      certFile: env.NSM_CERT_FILE_PATH,
      keyFile: env.NSM_KEY_FILE_PATH,
      config: injectionConfigFromEnv(env, native),
      namespaces: namespaces.lookup,
      dependenciesReady: () => namespaces.synced(),
      metrics,
      logger,
      bodyLimit: env.NSM_BODY_LIMIT,
      drainPeriodMs: env.NSM_DRAIN_PERIOD,
      debugEndpoints: env.NSM_DEBUG_ENDPOINTS,
    }).catch(async (err: unknown) => {
      await namespaces.stop();
      throw err;
    });
    const signal = await stopped;
    logger.info({ signal }, 'shutting down');
    await server.drain();
    await namespaces.stop();
    return 0;
  },
});
