import { Gauge, type Registry } from 'prom-client';
import { MEMIF_ENDPOINT_LABEL } from '../../../proto/memif.ts';
import { ownNetnsUrl } from '../../../sdk/netns.ts';
import { kernelAnswer } from '../elements/kernel-answer.ts';
import type { EndpointMode } from '../modes.ts';
import { assignAddresses } from './assign-addresses.ts';
import { MemifIds } from './memif-ids.ts';
import { memifAnswer } from './memif-answer.ts';
import { PointToPointPool } from './point-to-point-pool.ts';

/** p2p: each connection gets a pair of addresses; with NSM_MEMIF_SOCKET, memif clients get the application's socket. */
export function p2pElements(pool: PointToPointPool, memifIds: MemifIds, memifSocket?: string, netnsUrl = ownNetnsUrl()) {
  return [assignAddresses(pool), ...(memifSocket ? [memifAnswer(memifSocket, memifIds)] : []), kernelAnswer(netnsUrl)];
}

/** The pool's size and use, read when scraped (external mode reports its pool the same way). */
export function poolMetrics(registry: Registry, pool: PointToPointPool): void {
  new Gauge({ name: 'nsm_nse_address_pool_size', help: 'addresses the endpoint\'s pool (NSM_CIDR_PREFIX) hands out', registers: [registry], collect() { this.set(pool.size); } });
  new Gauge({
    name: 'nsm_nse_addresses', help: 'addresses of the pool, by state (used, free)', labelNames: ['state'], registers: [registry],
    collect() {
      this.set({ state: 'used' }, pool.used);
      this.set({ state: 'free' }, pool.size - pool.used);
    },
  });
}

export const p2pMode: EndpointMode = {
  async start(_o, config) {
    const pool = new PointToPointPool(config.NSM_CIDR_PREFIX);
    const memifSocket = config.NSM_MEMIF_SOCKET || undefined;
    const labels: Record<string, string> = memifSocket ? { [MEMIF_ENDPOINT_LABEL]: 'true' } : {};
    return {
      elements: p2pElements(pool, new MemifIds(), memifSocket),
      labels,
      describe: { pool: pool.cidr, memif: memifSocket },
      metrics: (registry) => poolMetrics(registry, pool),
    };
  },
};
