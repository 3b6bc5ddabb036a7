import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { parseAddress } from '../sdk/grpc/address.ts';
import type { Logger } from '../sdk/log.ts';
import { listenTcp, startMetricsServer, type MetricsServer } from '../sdk/telemetry/metrics-server.ts';
import type { NamespaceLookup } from './admission.ts';
import { buildApp } from './app.ts';
import type { InjectionConfig } from './injection-config.ts';
import type { SpeedDevices } from './injector.ts';
import type { WebhookMetrics } from './metrics.ts';
import { readTlsMaterial, watchTlsFiles, type TlsWatchOptions } from './tls-files.ts';

export interface ServerOptions {
  listenOn: string;
  metricsListenOn: string;
  certFile: string;
  keyFile: string;
  config: InjectionConfig;
  speedDevices?: SpeedDevices;
  namespaces: NamespaceLookup;
  /** Whether the dependencies (namespace cache) are ready. */
  dependenciesReady: () => boolean;
  metrics: WebhookMetrics;
  logger: Logger;
  bodyLimit?: number;
  drainPeriodMs?: number;
  debugEndpoints?: boolean;
  tlsWatch?: TlsWatchOptions;
}

export interface RunningServer {
  port: number;
  metricsPort: number;
  /** Readiness fails at once; requests are still served for the drain period; then everything closes. */
  drain(): Promise<void>;
}

const MIN_TLS = 'TLSv1.2';

/** Listens on HTTPS (admission) and plain HTTP (metrics); the certificate is reloaded when its files change. */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const log = opts.logger;
  const tls = await readTlsMaterial(opts.certFile, opts.keyFile);
  let draining = false;
  const app = buildApp({
    config: opts.config,
    speedDevices: opts.speedDevices,
    namespaces: opts.namespaces,
    ready: () => !draining && opts.dependenciesReady(),
    metrics: opts.metrics,
    logger: log,
    bodyLimit: opts.bodyLimit,
    https: { ...tls, minVersion: MIN_TLS },
    debugEndpoints: opts.debugEndpoints,
  });
  const stopWatch = watchTlsFiles(
    opts.certFile,
    opts.keyFile,
    tls,
    (next) => {
      (app.server as unknown as HttpsServer).setSecureContext({ ...next, minVersion: MIN_TLS });
      opts.metrics.tlsReloads.inc({ result: 'ok' });
      log.info({ certFile: opts.certFile }, 'serving certificate reloaded');
    },
    (err) => {
      opts.metrics.tlsReloads.inc({ result: 'error' });
      log.warn({ err: err.message }, 'serving certificate not reloaded; keeping the previous one');
    },
    opts.tlsWatch,
  );
  const addr = parseAddress(opts.listenOn);
  const maddr = parseAddress(opts.metricsListenOn);
  if (addr.kind !== 'tcp' || maddr.kind !== 'tcp') {
    stopWatch();
    throw new Error('NSM_LISTEN_ON and NSM_METRICS_LISTEN_ON must be TCP addresses such as :8443');
  }
  let metricsHttp: MetricsServer;
  try {
    await listenTcp((host) => app.listen({ host, port: addr.port }), addr.host);
    metricsHttp = await startMetricsServer(opts.metricsListenOn, opts.metrics.registry);
  } catch (err) {
    stopWatch();
    await app.close();
    throw err;
  }
  const port = (app.server.address() as AddressInfo).port;
  const metricsPort = metricsHttp.port;
  log.info({ port, metricsPort }, 'webhook listening');
  return {
    port,
    metricsPort,
    drain: async () => {
      draining = true;
      log.info({ drainPeriodMs: opts.drainPeriodMs ?? 0 }, 'draining');
      await new Promise((resolve) => setTimeout(resolve, opts.drainPeriodMs ?? 0));
      stopWatch();
      await app.close();
      await metricsHttp.stop();
    },
  };
}
