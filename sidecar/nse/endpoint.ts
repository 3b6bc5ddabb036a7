import { begin } from '../../sdk/chain/begin.ts';
import { chain } from '../../sdk/chain/chain.ts';
import { metadata } from '../../sdk/chain/metadata.ts';
import type { Element } from '../../sdk/chain/types.ts';
import { timeout } from '../../sdk/elements/timeout.ts';
import { updatePath } from '../../sdk/elements/update-path.ts';
import { networkServiceBinding } from '../../sdk/grpc/networkservice-server.ts';
import { startGrpcServer, type RunningGrpcServer } from '../../sdk/grpc/server.ts';
import { Gauge, Registry } from 'prom-client';
import { startMetricsServer } from '../../sdk/telemetry/metrics-server.ts';
import type { ModeRuntime } from './modes.ts';
import type { EndpointOptions } from './options.ts';
import { EndpointRegistration } from './registration.ts';

export interface Endpoint {
  readonly server: RunningGrpcServer;
  readonly registered: Promise<void>;
  /** What the endpoint holds (connections, and what its mode keeps per connection); logged on SIGUSR2. */
  held(): Record<string, number>;
  /** Where GET /metrics is served, when asked for. */
  readonly metricsPort?: number;
  stop(): Promise<void>;
}

/** Every endpoint's chain: the common elements, then the mode's. */
export function endpointElements(o: EndpointOptions, mode: readonly Element[], first = begin()): Element[] {
  return [updatePath(o.name), first, metadata(), timeout(o.connectionLifetimeMs), ...mode];
}

/** The endpoint's metrics: its connections, and what its mode adds. */
function endpointMetrics(connections: () => number, mode: ModeRuntime): Registry {
  const registry = new Registry();
  new Gauge({ name: 'nsm_nse_connections', help: 'live connections of this endpoint', registers: [registry], collect() { this.set(connections()); } });
  mode.metrics?.(registry);
  return registry;
}

/** Serves the mode's chain on the endpoint's socket, then registers it (the forwarder checks the socket is served). */
export async function startEndpoint(o: EndpointOptions, mode: ModeRuntime, metricsListenOn?: string): Promise<Endpoint> {
  const first = begin();
  const server = await startGrpcServer({ listenOn: o.listenOn, services: [networkServiceBinding(chain(endpointElements(o, mode.elements, first)), o.log)], socketMode: 0o666 });
  const metrics = metricsListenOn ? await startMetricsServer(metricsListenOn, endpointMetrics(() => first.connections().size, mode)) : undefined;
  const registration = new EndpointRegistration({ ...o, labels: { ...o.labels, ...mode.labels } }).start();
  return {
    server,
    registered: registration.ready,
    metricsPort: metrics?.port,
    held: () => ({ connections: first.connections().size, ...mode.held?.() }),
    stop: async () => {
      await registration.stop();
      await server.stop(2000);
      await metrics?.stop();
      await mode.stop?.();
    },
  };
}
