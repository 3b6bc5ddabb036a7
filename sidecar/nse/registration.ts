import { NetworkServiceEndpoint, RegistryNetworkService } from '../../proto/api.ts';
import { MEMIF_ENDPOINT_LABEL } from '../../proto/memif.ts';
import { dial, whenDisconnected } from '../../sdk/grpc/client.ts';
import { RegistryClient } from '../../sdk/registry/client.ts';
import type { EndpointOptions } from './endpoint.ts';

export interface Registration {
  /** Settles once the endpoint was registered the first time. */
  ready: Promise<void>;
  /** Stops refreshing and unregisters. */
  stop(): Promise<void>;
}

const RETRY_MS = 1000;

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
 * fresh at a third of its lifetime; a failed refresh is retried every second. When the connection
 * to the forwarder drops (a forwarder restart), it registers again as soon as the forwarder
 * answers, since a restarted forwarder knows this endpoint's socket only from a registration.
 */
export function keepRegistered(o: EndpointOptions): Registration {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let client: RegistryClient | undefined;
  let unwatch: (() => void) | undefined;
  /** The connection the services were registered on. */
  let servicesOn: RegistryClient | undefined;
  let running = false;
  let lostWhileRunning = false;
  const nse = endpointRegistration(o);
  let resolveReady!: () => void;
  const ready = new Promise<void>((r) => (resolveReady = r));

  const schedule = (ms: number) => {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(() => void loop(), ms);
  };
  const dropClient = () => {
    unwatch?.();
    unwatch = undefined;
    client?.channel.close();
    client = undefined;
  };
  const lost = () => {
    o.log.info({ connectTo: o.connectTo }, 'lost the connection to the forwarder; registering again once it answers');
    dropClient();
    if (running) lostWhileRunning = true;
    else schedule(0);
  };
  const connect = async (): Promise<RegistryClient> => {
    const c = new RegistryClient(await dial(o.connectTo, { dialTimeoutMs: o.dialTimeoutMs }));
    client = c;
    unwatch = whenDisconnected(c.channel, lost);
    return c;
  };
  const once = async (): Promise<number> => {
    // This run's client: `lost` may drop the shared one while a call is out.
    const c = client ?? (await connect());
    // Services once per connection to the forwarder, not on every refresh: a refresh must not
    // overwrite what was changed on the NetworkService since (e.g. its matches).
    if ((o.registerServices ?? true) && servicesOn !== c) {
      for (const s of o.services) await c.registerService(RegistryNetworkService.fromPartial({ name: s, payload: o.payload }), { timeoutMs: 5000 });
      servicesOn = c;
    }
    const registered = await c.registerEndpoint(nse, { timeoutMs: 5000 });
    const left = (registered.expirationTime?.getTime() ?? Date.now() + 60_000) - Date.now();
    return Math.max(200, left / 3);
  };
  const loop = async () => {
    if (stopped || running) return;
    running = true;
    let wait = RETRY_MS;
    try {
      wait = await once();
      resolveReady();
    } catch (err) {
      o.log.warn({ err: (err as Error).message, connectTo: o.connectTo }, 'registering the endpoint failed; retrying');
      dropClient();
    }
    running = false;
    schedule(lostWhileRunning ? 0 : wait);
    lostWhileRunning = false;
  };
  void loop();
  return {
    ready,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      unwatch?.();
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
