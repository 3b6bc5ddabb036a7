import { Gauge, type Registry } from 'prom-client';
import type { BridgeDomain } from './domain.ts';

/** The bridge's links in its domain and the domain's MTU as it sees them, read when scraped. */
export function linkMetrics(registry: Registry, domain: BridgeDomain): void {
  new Gauge({ name: 'nsm_nse_bridge_links', help: 'peer bridges of the domain this bridge has a link with', registers: [registry], collect() { this.set(domain.linked.size); } });
  new Gauge({ name: 'nsm_nse_bridge_domain_mtu', help: 'the smallest MTU of this bridge\'s links (0: none has one)', registers: [registry], collect() { this.set(domain.mtu); } });
}
