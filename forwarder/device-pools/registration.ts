import { NetworkServiceEndpoint, Payload, RegistryNetworkService } from '../../proto/api.ts';
import type { Logger } from '../../sdk/log.ts';
import type { RegistryBackend } from '../../sdk/registry/types.ts';
import type { DevicePool } from './pool.ts';

/** Endpoint label of a device pool: its resource. A NetworkService's matches can route on it (`sriovToken: "{{.sriovToken}}"`). */
export const POOL_LABEL = 'sriovToken';
/** Endpoint label naming the forwarder (the node) whose pool it is. */
export const NODE_LABEL = 'nodeName';

/** The pool's endpoint name: the forwarder's and the resource's, as a Kubernetes object name allows. */
export function poolEndpointName(forwarder: string, resource: string): string {
  return `${forwarder}-${resource.replace('/', '-')}`.toLowerCase().replace(/[^a-z0-9.-]/g, '-').slice(0, 253);
}

/** What the pool registers: an endpoint of its service on this forwarder's socket, labelled with its resource and node. */
export function poolRegistration(pool: DevicePool, forwarder: string, url: string, expires: Date): NetworkServiceEndpoint {
  const labels = { [POOL_LABEL]: pool.resource, [NODE_LABEL]: forwarder };
  return NetworkServiceEndpoint.fromPartial({
    name: pool.endpointName,
    networkServiceNames: [pool.config.service],
    networkServiceLabels: { [pool.config.service]: { labels } },
    url,
    expirationTime: expires,
  });
}

export interface PoolRegistrationOptions {
  registry: RegistryBackend;
  forwarder: string;
  /** The forwarder's own socket: the pool is served by the forwarder (its chain never calls it). */
  url: string;
  lifetimeMs: number;
  log: Logger;
}

/**
 * Keeps every pool registered as an endpoint like any other (so selection, matches and locality
 * apply), refreshed at a third of its lifetime, and its NetworkService registered when nobody
 * has (payload ETHERNET: a device carries frames). Stopping unregisters the pools.
 */
export class PoolRegistrations {
  readonly #pools: readonly DevicePool[];
  readonly #o: PoolRegistrationOptions;
  #timer?: NodeJS.Timeout;

  constructor(pools: readonly DevicePool[], o: PoolRegistrationOptions) {
    this.#pools = pools;
    this.#o = o;
  }

  async start(): Promise<void> {
    for (const p of this.#pools) {
      if (!this.#o.registry.services.get(p.config.service)) {
        await this.#o.registry.services.put(RegistryNetworkService.fromPartial({ name: p.config.service, payload: Payload.ETHERNET }));
      }
    }
    await this.#refresh();
    this.#timer = setInterval(() => void this.#refresh().catch((err: unknown) => this.#o.log.warn({ err }, 'refreshing the device pools\' registrations failed')), Math.max(100, this.#o.lifetimeMs / 3));
    this.#timer.unref();
  }

  async #refresh(): Promise<void> {
    const expires = new Date(Date.now() + this.#o.lifetimeMs);
    for (const p of this.#pools) await this.#o.registry.endpoints.put(poolRegistration(p, this.#o.forwarder, this.#o.url, expires));
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    for (const p of this.#pools) await this.#o.registry.endpoints.delete(p.endpointName).catch(() => false);
  }
}
