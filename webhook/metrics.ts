import { Counter, Registry } from 'prom-client';
import { BoundCounter, BoundHistogram } from './bound-metrics.ts';
import { DENY_REASONS } from './inject.ts';
import { SKIP_REASONS } from './selection.ts';
import { TalliedCounter, TalliedHistogram } from './tally.ts';

/** Millisecond-scale buckets: the in-process handler is expected to answer well under 5 ms. */
export const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

const DECISIONS = ['injected', 'skipped', 'denied'];

interface Counts {
  inc(...values: string[]): void;
}

interface Observations {
  observe(value: number, ...values: string[]): void;
}

export interface WebhookMetrics {
  registry: Registry;
  requests: Counts;
  injections: Counts;
  skips: Counts;
  denials: Counts;
  duration: Observations;
  httpErrors: Counter<'code'>;
  tlsReloads: Counter<'result'>;
}

/**
 * A private registry per instance, so several apps (tests) never share counters. The admission
 * path's metrics are prom-client children bound up front, or (`tallies`) plain numbers handed to
 * prom-client when scraped; the benchmark compares the two.
 */
export function createMetrics(registry = new Registry(), opts: { tallies?: boolean } = {}): WebhookMetrics {
  const registers = [registry];
  const tallies = opts.tallies ?? true;
  const counter = <L extends string>(config: { name: string; help: string; labelNames: readonly L[] }, values: readonly (readonly string[])[]): Counts =>
    tallies ? new TalliedCounter({ ...config, registers }) : new BoundCounter({ ...config, registers }, values);
  return {
    registry,
    requests: counter({ name: 'nsm_webhook_admission_requests_total', help: 'AdmissionReviews answered, by decision', labelNames: ['decision'] }, [DECISIONS]),
    injections: counter({ name: 'nsm_webhook_injections_total', help: 'pods injected, by where the services came from and sidecar kind', labelNames: ['source', 'native'] }, [['pod', 'namespace'], ['true', 'false']]),
    skips: counter({ name: 'nsm_webhook_skips_total', help: 'pods allowed without injection, by reason', labelNames: ['reason'] }, [SKIP_REASONS]),
    denials: counter({ name: 'nsm_webhook_denials_total', help: 'pods denied, by reason', labelNames: ['reason'] }, [DENY_REASONS]),
    duration: tallies
      ? new TalliedHistogram({ name: 'nsm_webhook_admission_duration_seconds', help: 'time to answer one AdmissionReview', labelNames: ['decision'], buckets: DURATION_BUCKETS, registers })
      : new BoundHistogram({ name: 'nsm_webhook_admission_duration_seconds', help: 'time to answer one AdmissionReview', labelNames: ['decision'], buckets: DURATION_BUCKETS, registers }, [DECISIONS]),
    httpErrors: new Counter({ name: 'nsm_webhook_http_errors_total', help: 'requests refused before review (bad content type, size, JSON, shape)', labelNames: ['code'], registers }),
    tlsReloads: new Counter({ name: 'nsm_webhook_tls_reloads_total', help: 'serving certificate reloads, by result', labelNames: ['result'], registers }),
  };
}
