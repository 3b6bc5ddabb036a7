import { NetworkServiceEndpoint, RegistryNetworkService } from '../../proto/api.ts';
import { MEMIF_ENDPOINT_LABEL } from '../../proto/memif.ts';
import { begin } from '../../sdk/chain/begin.ts';
import { chain } from '../../sdk/chain/chain.ts';
import { metadata } from '../../sdk/chain/metadata.ts';
import type { Element } from '../../sdk/chain/types.ts';
import { timeout } from '../../sdk/elements/timeout.ts';
import { updatePath } from '../../sdk/elements/update-path.ts';
import { dial } from '../../sdk/grpc/client.ts';
import { networkServiceBinding } from '../../sdk/grpc/networkservice-server.ts';
import { startGrpcServer, type RunningGrpcServer } from '../../sdk/grpc/server.ts';
import type { Logger } from '../../sdk/log.ts';
import { ownNetnsUrl } from '../../sdk/netns.ts';
import { RegistryClient } from '../../sdk/registry/client.ts';
import { ipamElement } from './elements/ipam.ts';
import { kernelAnswer } from './elements/kernel-answer.ts';
import { memifAnswer } from './elements/memif-answer.ts';
import { MemifIds } from './memif-ids.ts';
import { PointToPointIpam } from './ipam.ts';

export interface EndpointOptions {
  name: string;
  services: string[];
  labels: Record<string, string>;
  payload: string;
  cidr: string;
  connectTo: string;
  listenOn: string;
  connectionLifetimeMs: number;
  dialTimeoutMs: number;
  log: Logger;
  /** Filesystem socket the endpoint application listens on as memif server; unset = no memif. */
  memifSocket?: string;
  /** Register the NetworkServices (name and payload) too; off when they are managed as objects of their own. */
  registerServices?: boolean;
}

export interface Endpoint {
  readonly ipam: PointToPointIpam;
  readonly server: RunningGrpcServer;
  stop(): Promise<void>;
}

export function endpointElements(o: EndpointOptions, ipam: PointToPointIpam, memifIds = new MemifIds()): Element[] {
  const memif = o.memifSocket ? [memifAnswer(o.memifSocket, memifIds)] : [];
  return [updatePath(o.name), begin(), metadata(), timeout(o.connectionLifetimeMs), ipamElement(ipam), ...memif, kernelAnswer(ownNetnsUrl())];
}

/** What the endpoint registers; a memif endpoint marks each of its services with MEMIF_ENDPOINT_LABEL. */
export function endpointRegistration(o: EndpointOptions): NetworkServiceEndpoint {
  const labels = o.memifSocket ? { ...o.labels, [MEMIF_ENDPOINT_LABEL]: 'true' } : o.labels;
  return NetworkServiceEndpoint.fromPartial({
    name: o.name,
    networkServiceNames: o.services,
    networkServiceLabels: Object.fromEntries(o.services.map((s) => [s, { labels }])),
    url: o.listenOn,
  });
}

/**
 * Registers the endpoint (and its services) through the forwarder and keeps the registration
 * fresh at a third of its lifetime; a failed refresh is retried every second.
 */
function keepRegistered(o: EndpointOptions): { ready: Promise<void>; stop(): Promise<void> } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let client: RegistryClient | undefined;
  let servicesRegistered = false;
  const nse = endpointRegistration(o);
  let resolveReady!: () => void;
  const ready = new Promise<void>((r) => (resolveReady = r));
  const once = async (): Promise<number> => {
    client ??= new RegistryClient(await dial(o.connectTo, { dialTimeoutMs: o.dialTimeoutMs }));
    // Services once per connection to the forwarder, not on every refresh: a refresh must not
    // overwrite what was changed on the NetworkService since (e.g. its matches).
    if ((o.registerServices ?? true) && !servicesRegistered) {
      for (const s of o.services) await client.registerService(RegistryNetworkService.fromPartial({ name: s, payload: o.payload }), { timeoutMs: 5000 });
      servicesRegistered = true;
    }
    const registered = await client.registerEndpoint(nse, { timeoutMs: 5000 });
    const left = (registered.expirationTime?.getTime() ?? Date.now() + 60_000) - Date.now();
    return Math.max(200, left / 3);
  };
  const loop = async () => {
    if (stopped) return;
    let wait = 1000;
    try {
      wait = await once();
      resolveReady();
    } catch (err) {
      o.log.warn({ err: (err as Error).message, connectTo: o.connectTo }, 'registering the endpoint failed; retrying');
      client?.channel.close();
      client = undefined;
      servicesRegistered = false;
    }
    if (!stopped) timer = setTimeout(() => void loop(), wait);
  };
  void loop();
  return {
    ready,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      try {
        client ??= new RegistryClient(await dial(o.connectTo, { dialTimeoutMs: o.dialTimeoutMs }));
        await client.unregisterEndpoint(nse, { timeoutMs: 3000 });
      } catch (err) {
        o.log.warn({ err: (err as Error).message }, 'unregistering failed; the registration expires on its own');
      }
      client?.channel.close();
    },
  };
}

export async function startEndpoint(o: EndpointOptions): Promise<Endpoint & { registered: Promise<void> }> {
  const ipam = new PointToPointIpam(o.cidr);
  const server = await startGrpcServer({ listenOn: o.listenOn, services: [networkServiceBinding(chain(endpointElements(o, ipam)), o.log)], socketMode: 0o666 });
  const registration = keepRegistered(o);
  return {
    ipam,
    server,
    registered: registration.ready,
    stop: async () => {
      await registration.stop();
      await server.stop(2000);
    },
  };
}
