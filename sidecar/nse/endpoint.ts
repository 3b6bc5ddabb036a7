import { begin } from '../../sdk/chain/begin.ts';
import { chain } from '../../sdk/chain/chain.ts';
import { metadata } from '../../sdk/chain/metadata.ts';
import type { Element } from '../../sdk/chain/types.ts';
import { timeout } from '../../sdk/elements/timeout.ts';
import { updatePath } from '../../sdk/elements/update-path.ts';
import { networkServiceBinding } from '../../sdk/grpc/networkservice-server.ts';
import { startGrpcServer, type RunningGrpcServer } from '../../sdk/grpc/server.ts';
import type { ModeRuntime } from './modes.ts';
import type { EndpointOptions } from './options.ts';
import { EndpointRegistration } from './registration.ts';

export interface Endpoint {
  readonly server: RunningGrpcServer;
  readonly registered: Promise<void>;
  /** What the endpoint holds (connections, and what its mode keeps per connection); logged on SIGUSR2. */
  held(): Record<string, number>;
  stop(): Promise<void>;
}

/** Every endpoint's chain: the common elements, then the mode's. */
export function endpointElements(o: EndpointOptions, mode: readonly Element[]): Element[] {
  return [updatePath(o.name), begin(), metadata(), timeout(o.connectionLifetimeMs), ...mode];
}

/** Serves the mode's chain on the endpoint's socket, then registers it (the forwarder checks the socket is served). */
export async function startEndpoint(o: EndpointOptions, mode: ModeRuntime): Promise<Endpoint> {
  const elements = endpointElements(o, mode.elements);
  const server = await startGrpcServer({ listenOn: o.listenOn, services: [networkServiceBinding(chain(elements), o.log)], socketMode: 0o666 });
  const registration = new EndpointRegistration({ ...o, labels: { ...o.labels, ...mode.labels } }).start();
  return {
    server,
    registered: registration.ready,
    held: () => ({ connections: (elements.find((e) => e.name === 'begin') as ReturnType<typeof begin>).connections().size, ...mode.held?.() }),
    stop: async () => {
      await registration.stop();
      await server.stop(2000);
      await mode.stop?.();
    },
  };
}
