import { Counter, Gauge, Registry } from 'prom-client';
import { HEAL_CAUSES, type KeptConnection, type KeptEvents } from './kept-connection.ts';

/**
 * The Prometheus metrics of `nsm nsc run`, by network service (bounded by the pod's
 * NSM_NETWORK_SERVICES; never a connection id or pod name). Connections up are read from the kept
 * connections when scraped; heals and failures are fed by each connection's events.
 */
export class NscMetrics {
  readonly registry = new Registry();
  readonly #heals: Counter<'service' | 'cause'>;
  readonly #lastFailure: Gauge<'service'>;

  /** `kept` is read when scraped: the connections may be made after the metrics. */
  constructor(kept: () => readonly KeptConnection[]) {
    const registers = [this.registry];
    new Gauge({
      name: 'nsm_nsc_connections_up', help: 'connections this client holds (answered by the forwarder, no reselect waiting), by network service', labelNames: ['service'], registers,
      collect() {
        this.reset();
        for (const k of kept()) this.inc({ service: k.url.service }, k.up ? 1 : 0);
      },
    });
    this.#heals = new Counter({ name: 'nsm_nsc_heals_total', help: 'heals, by network service and the event that started one (a heal lasts until the forwarder answers again): endpoint-closed, endpoint-not-found, refresh-refused (requested anew), path-down, not-adopted, monitor-lost (refreshed at once)', labelNames: ['service', 'cause'], registers });
    this.#lastFailure = new Gauge({ name: 'nsm_nsc_last_failure_timestamp_seconds', help: 'when a connection of the network service last failed (a heal started, or a Request or refresh failed), in unix seconds', labelNames: ['service'], registers });
  }

  /** The events of a connection to `service`; its heal series start at 0. */
  eventsOf(service: string): KeptEvents {
    for (const cause of HEAL_CAUSES) this.#heals.inc({ service, cause }, 0);
    const failed = () => this.#lastFailure.set({ service }, Date.now() / 1000);
    return {
      healing: (cause) => {
        this.#heals.inc({ service, cause });
        failed();
      },
      failed,
    };
  }
}
