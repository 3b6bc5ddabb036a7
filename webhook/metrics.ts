import { Counter, Registry } from 'prom-client';
import { BoundCounter, BoundHistogram } from './bound-metrics.ts';
import { DENY_REASONS } from './inject.ts';
import { SKIP_REASONS } from './selection.ts';

/** Millisecond-scale buckets: the in-process handler is expected to answer well under 5 ms. */
export const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

const DECISIONS = ['injected', 'skipped', 'denied'];

export interface WebhookMetrics {
  registry: Registry;
  requests: BoundCounter<'decision'>;
  injections: BoundCounter<'source' | 'native'>;
  skips: BoundCounter<'reason'>;
  denials: BoundCounter<'reason'>;
  duration: BoundHistogram<'decision'>;
  httpErrors: Counter<'code'>;
  tlsReloads: Counter<'result'>;
}

/**
 * A private registry per instance, so several apps (tests) never share counters. The admission
 * path's metrics have their children bound up front, one per decision, source and reason.
 */
export function createMetrics(registry = new Registry()): WebhookMetrics {
  const registers = [registry];
  return {
    registry,
    requests: new BoundCounter({ name: 'nsm_webhook_admission_requests_total', help: 'AdmissionReviews answered, by decision', labelNames: ['decision'], registers }, [DECISIONS]),
    injections: new BoundCounter({ name: 'nsm_webhook_injections_total', help: 'pods injected, by where the services came from and sidecar kind', labelNames: ['source', 'native'], registers }, [['pod', 'namespace'], ['true', 'false']]),
    skips: new BoundCounter({ name: 'nsm_webhook_skips_total', help: 'pods allowed without injection, by reason', labelNames: ['reason'], registers }, [SKIP_REASONS]),
    denials: new BoundCounter({ name: 'nsm_webhook_denials_total', help: 'pods denied, by reason', labelNames: ['reason'], registers }, [DENY_REASONS]),
    duration: new BoundHistogram({ name: 'nsm_webhook_admission_duration_seconds', help: 'time to answer one AdmissionReview', labelNames: ['decision'], buckets: DURATION_BUCKETS, registers }, [DECISIONS]),
    httpErrors: new Counter({ name: 'nsm_webhook_http_errors_total', help: 'requests refused before review (bad content type, size, JSON, shape)', labelNames: ['code'], registers }),
    tlsReloads: new Counter({ name: 'nsm_webhook_tls_reloads_total', help: 'serving certificate reloads, by result', labelNames: ['result'], registers }),
  };
}
