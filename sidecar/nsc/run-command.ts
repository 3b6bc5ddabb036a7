import { Keys } from '../../proto/api.ts';
import { defineCommand } from '../../sdk/cli.ts';
import { metricsAddress } from '../../sdk/config/index.ts';
import { toNsmError } from '../../sdk/errors.ts';
import { startMetricsServer } from '../../sdk/telemetry/metrics-server.ts';
import { connectionId, readConnection, removeConnection } from './client.ts';
import { nscEnv } from './env.ts';
import { watchForwarder } from './forwarder-monitor.ts';
import { keepAlive } from './keep-alive.ts';
import { KeptConnection } from './kept-connection.ts';
import { clientSetup } from './setup.ts';
import { stopSignal } from '../../sdk/stop-signal.ts';

export default defineCommand({
  summary: 'keep the pod\'s connections alive (refresh, heal) and close them on shutdown',
  env: {
    ...nscEnv,
    NSM_METRICS_LISTEN_ON: metricsAddress('plain-HTTP address of GET /metrics (Prometheus), e.g. :9093; a port of the pod\'s own network namespace; empty = no metrics'),
  },
  async run(config) {
    const stopped = stopSignal();
    const { urls, name, log, dial: d, claims } = clientSetup(config, 'keep', 'nsc');
    const stop = new AbortController();
    let kept: KeptConnection[] = [];
    // prom-client is loaded only when metrics are asked for: every pod runs this sidecar.
    const metrics = config.NSM_METRICS_LISTEN_ON ? new (await import('./metrics.ts')).NscMetrics(() => kept) : undefined;
    kept = await Promise.all(urls.map(async (url, index) => {
      const saved = await readConnection(config.NSM_CONNECTIONS_DIR, url.ifname);
      const conn = saved?.id === connectionId(name, index) ? saved : undefined;
      // The kubelet gives the token to the container that asked for the resource (nsc init's);
      // this one reads it from the connection nsc init wrote, to heal with it.
      const token = claims.tokens.get(index) ?? conn?.mechanism?.parameters[Keys.tokenID];
      return new KeptConnection(url, index, conn, { token, events: metrics?.eventsOf(url.service) });
    }));
    const metricsServer = metrics && await startMetricsServer(config.NSM_METRICS_LISTEN_ON, metrics.registry);
    if (metricsServer) log.info({ metricsPort: metricsServer.port }, 'serving metrics');
    for (const k of kept) if (k.conn) log.info({ connId: k.conn.id, service: k.url.service }, 'adopting the connection nsc init made');
    const loops = [
      ...kept.map((k) => keepAlive(k, d, name, config.NSM_CONNECTIONS_DIR, config.NSM_REQUEST_TIMEOUT, log, stop.signal)),
      watchForwarder(d, name, kept, log, stop.signal),
    ];
    await stopped;
    stop.abort();
    await Promise.all(loops);
    await Promise.all(kept.map(async (k) => {
      if (!k.conn) return;
      try {
        await (await d.client()).close(k.conn, { timeoutMs: config.NSM_REQUEST_TIMEOUT });
        log.info({ connId: k.conn.id, service: k.url.service }, 'closed');
      } catch (err) {
        log.warn({ connId: k.conn.id, err: toNsmError(err).message }, 'close failed; the forwarder removes the connection when it expires');
      }
      await removeConnection(config.NSM_CONNECTIONS_DIR, k.url.ifname);
    }));
    d.reset();
    await metricsServer?.stop();
    return 0;
  },
});
