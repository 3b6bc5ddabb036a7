import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { Cls, type Connection, type NetworkServiceRequest } from '../proto/api.ts';
import type { CallObserver } from '../sdk/grpc/networkservice-server.ts';
import { isExpired } from '../sdk/registry/match.ts';
import type { RegistryBackend } from '../sdk/registry/types.ts';
import type { KernelOp } from './dataplane/kernel-op.ts';
import type { KernelRunner } from './dataplane/runner.ts';

/** 1 ms to 30 s: a same-node setup takes milliseconds, a cross-node one with retries seconds. */
export const SETUP_BUCKETS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 30_000];
const KERNEL_BUCKETS_MS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 250, 1000];

/** What the connection is carried by, as the gauge labels it: its tunnel, or the client's mechanism. */
const mechanismOf = (c: Connection) => c.context?.extraContext.tunnel ?? c.mechanism?.type ?? 'none';

export interface ForwarderMetricsSources {
  /** The live connections (the monitor's view). */
  connections: () => Iterable<Connection>;
  registry: RegistryBackend;
}

/**
 * The forwarder's Prometheus metrics. Gauges are read when scraped from what the forwarder holds;
 * counters and histograms are fed by the gRPC edge (every answered call) and the kernel runner.
 * Labels are bounded: mechanism, payload, call kind and code, operation name.
 */
export class ForwarderMetrics {
  readonly registry: Registry;
  readonly #calls: Counter<'call' | 'code'>;
  readonly #setup: Histogram;
  readonly #kernel: Histogram<'op' | 'result'>;
  readonly heals: Counter<'cause'>;
  readonly #name: string;

  constructor(name: string, sources: ForwarderMetricsSources, registry = new Registry()) {
    this.registry = registry;
    const registers = [registry];
    new Gauge({
      name: 'nsm_forwarder_connections', help: 'live connections, by the mechanism that carries them (KERNEL, MEMIF, VXLAN, GRE) and payload', labelNames: ['mechanism', 'payload'], registers,
      collect() {
        this.reset();
        for (const c of sources.connections()) this.inc({ mechanism: mechanismOf(c), payload: c.payload || 'unknown' });
      },
    });
    new Gauge({
      name: 'nsm_forwarder_tunnels', help: 'tunnel ends this forwarder holds, by type', labelNames: ['type'], registers,
      collect() {
        this.reset();
        for (const c of sources.connections()) {
          const type = c.context?.extraContext.tunnel ?? (c.mechanism?.cls === Cls.REMOTE ? c.mechanism.type : undefined);
          if (type) this.inc({ type });
        }
      },
    });
    new Gauge({
      name: 'nsm_forwarder_registered_endpoints', help: 'endpoint registrations that have not expired, in the registry this forwarder reads', registers,
      collect() {
        const now = new Date();
        this.set(sources.registry.endpoints.list().filter((e) => !isExpired(e, now)).length);
      },
    });
    this.#calls = new Counter({ name: 'nsm_forwarder_calls_total', help: 'NetworkService calls answered, by kind (request: a new connection, refresh, close) and outcome code', labelNames: ['call', 'code'], registers });
    this.#setup = new Histogram({ name: 'nsm_forwarder_setup_duration_milliseconds', help: 'time to answer a Request for a new connection that succeeded', buckets: SETUP_BUCKETS_MS, registers });
    this.#kernel = new Histogram({ name: 'nsm_forwarder_kernel_call_duration_milliseconds', help: 'time of one kernel call (a batch of operations in one namespace), by its first operation and result', labelNames: ['op', 'result'], buckets: KERNEL_BUCKETS_MS, registers });
    this.heals = new Counter({ name: 'nsm_forwarder_heals_total', help: 'connections the forwarder healed, by cause: endpoint-gone and client-gone (closed so the client reselects), path-broken (rebuilt on the next Request), path-impaired (marked DOWN)', labelNames: ['cause'], registers });
    this.#name = name;
  }

  /** Feeds the call counters and the setup histogram from the gRPC edge. */
  readonly observe: CallObserver<NetworkServiceRequest | Connection> = (method, req, code, ms) => {
    const call = method.endsWith('/Close') ? 'close' : this.#isRefresh(req as NetworkServiceRequest | undefined) ? 'refresh' : 'request';
    this.#calls.inc({ call, code: code });
    if (call === 'request' && code === 'OK') this.#setup.observe(ms);
  };

  /** A refresh carries the path this forwarder answered before, with its own segment in it. */
  #isRefresh(req: NetworkServiceRequest | undefined): boolean {
    return req?.connection?.path?.pathSegments.some((s) => s.name === this.#name) ?? false;
  }

  /** The runner, with each call timed. */
  timed(runner: KernelRunner): KernelRunner {
    const kernel = this.#kernel;
    return {
      links: (netns) => runner.links(netns),
      async run(netns, ops, options) {
        const started = performance.now();
        const op = (ops[0] as KernelOp | undefined)?.op ?? (options?.finally?.[0]?.op ?? 'none');
        try {
          await runner.run(netns, ops, options);
          kernel.observe({ op, result: 'ok' }, performance.now() - started);
        } catch (err) {
          kernel.observe({ op, result: 'error' }, performance.now() - started);
          throw err;
        }
      },
    };
  }
}
