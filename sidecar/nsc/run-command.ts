import { readFile } from 'node:fs/promises';
import { parseNsUrlList } from '../../proto/api.ts';
import { defineCommand } from '../../sdk/cli.ts';
import { metricsAddress, str } from '../../sdk/config/index.ts';
import { monitor } from '../../sdk/elements/monitor.ts';
import { startGrpcServer } from '../../sdk/grpc/server.ts';
import { startMetricsServer } from '../../sdk/telemetry/metrics-server.ts';
import { stopSignal } from '../../sdk/stop-signal.ts';
import { adoptConnections } from './adopt.ts';
import { clientApiBinding } from './client-api.ts';
import { desiredServices } from './desired-services.ts';
import { clientApiAddress, DEFAULT_CLIENT_API, nscEnv } from './env.ts';
import { watchFile } from './file-watch.ts';
import { annotationFollower, NOT_FOLLOWED } from './follow-annotation.ts';
import { watchForwarder } from './forwarder-monitor.ts';
import type { KeptConnection } from './kept-connection.ts';
import { KeptSet } from './kept-set.ts';
import { podProblemReporter } from './pod-events.ts';
import { clientSetup } from './setup.ts';

export default defineCommand({
  summary: 'keep the pod\'s connections alive (refresh, heal), follow its annotation, serve its applications, close all on shutdown',
  env: {
    ...nscEnv,
    NSM_METRICS_LISTEN_ON: metricsAddress('plain-HTTP address of GET /metrics (Prometheus), e.g. :9093; a port of the pod\'s own network namespace; empty = no metrics'),
    NSM_POD_ANNOTATIONS: str('', 'the pod\'s annotations as a downward API file (key="value" lines) to follow: when NSM_ANNOTATION changes there, the connections follow; empty = no following'),
    NSM_ANNOTATION: str('networkservicemesh.io', 'the annotation of NSM_POD_ANNOTATIONS that lists the pod\'s network services'),
    NSM_CLIENT_API: clientApiAddress(DEFAULT_CLIENT_API, 'unix socket where the pod\'s applications Request and Close network services (upstream networkservice.NetworkService) and see the pod\'s connections (MonitorConnections); empty = none'),
    POD_NAMESPACE: str('', 'the pod\'s namespace, for the Events about annotation values that were not followed'),
  },
  async run(config) {
    const stopped = stopSignal();
    const live = config.NSM_POD_ANNOTATIONS !== '' || config.NSM_CLIENT_API !== '';
    const { urls: createdWith, name, log, dial, claims } = clientSetup(config, 'keep', 'nsc', live);
    const stop = new AbortController();
    const board = monitor();
    // prom-client is loaded only when metrics are asked for: every pod runs this sidecar.
    let kept: readonly KeptConnection[] = [];
    const metrics = config.NSM_METRICS_LISTEN_ON ? new (await import('./metrics.ts')).NscMetrics(() => kept) : undefined;
    const set = new KeptSet({ dial, name, dir: config.NSM_CONNECTIONS_DIR, requestTimeoutMs: config.NSM_REQUEST_TIMEOUT, log, signal: stop.signal, board, eventsOf: metrics && ((s) => metrics.eventsOf(s)) });
    kept = set.all;
    const report = podProblemReporter({ name, namespace: config.POD_NAMESPACE }, log);

    const annotations = config.NSM_POD_ANNOTATIONS && await readFile(config.NSM_POD_ANNOTATIONS, 'utf8').catch(() => undefined);
    const desired = desiredServices(annotations || undefined, config.NSM_ANNOTATION, config.NSM_NETWORK_SERVICES);
    if ('problem' in desired) await report(NOT_FOLLOWED, `${desired.problem}; keeping the services the pod was created with (NSM_NETWORK_SERVICES)`);
    await adoptConnections({ set, name, dir: config.NSM_CONNECTIONS_DIR, createdWith, claims, log }, 'urls' in desired ? desired.urls : parseNsUrlList(config.NSM_NETWORK_SERVICES));

    const metricsServer = metrics && await startMetricsServer(config.NSM_METRICS_LISTEN_ON, metrics.registry);
    if (metricsServer) log.info({ metricsPort: metricsServer.port }, 'serving metrics');
    const api = config.NSM_CLIENT_API === '' ? undefined : await startGrpcServer({
      listenOn: config.NSM_CLIENT_API,
      // The socket is in a volume of the pod alone; its containers may run as any user.
      socketMode: 0o666,
      services: [clientApiBinding({ set, name, createdWith, annotation: config.NSM_ANNOTATION, dial, dir: config.NSM_CONNECTIONS_DIR, requestTimeoutMs: config.NSM_REQUEST_TIMEOUT, log }), board.binding],
    });
    if (api) log.info({ clientApi: config.NSM_CLIENT_API }, 'serving the client API');
    const loops = [
      watchForwarder(dial, name, set.all, log, stop.signal),
      ...(config.NSM_POD_ANNOTATIONS ? [watchFile(config.NSM_POD_ANNOTATIONS, annotationFollower({ set, annotation: config.NSM_ANNOTATION, createdValue: config.NSM_NETWORK_SERVICES, createdWith, name, report, log }), stop.signal, annotations || undefined)] : []),
    ];
    await stopped;
    board.endStreams();
    await api?.stop(500);
    stop.abort();
    await Promise.all(loops);
    await set.dropAll();
    dial.reset();
    await metricsServer?.stop();
    return 0;
  },
});
