import { Gauge, type Registry } from 'prom-client';

/** What the pool metrics read of an endpoint's address pool. */
export interface PoolUse {
  /** Addresses the pool hands out. */
  readonly size: number;
  readonly used: number;
}

/** The pool's size and use, read when scraped. */
export function poolMetrics(registry: Registry, pool: PoolUse): void {
  new Gauge({ name: 'nsm_nse_address_pool_size', help: 'addresses the endpoint\'s pool (NSM_CIDR_PREFIX, or NSM_IP_POOL for a bridge) hands out', registers: [registry], collect() { this.set(pool.size); } });
  new Gauge({
    name: 'nsm_nse_addresses', help: 'addresses of the pool, by state (used, free)', labelNames: ['state'], registers: [registry],
    collect() {
      this.set({ state: 'used' }, pool.used);
      this.set({ state: 'free' }, pool.size - pool.used);
    },
  });
}
