import { Counter, Registry } from 'prom-client';
import { TalliedCounter, TalliedHistogram } from './tally.ts';

/** Millisecond-scale buckets: the in-process handler is expected to answer well under 5 ms. */
export const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

export interface WebhookMetrics {
  registry: Registry;
  requests: TalliedCounter<'decision'>;
  injections: TalliedCounter<'source' | 'native'>;
  skips: TalliedCounter<'reason'>;
  denials: TalliedCounter<'reason'>;
  duration: TalliedHistogram<'decision'>;
  httpErrors: Counter<'code'>;
  tlsReloads: Counter<'result'>;
}

/** A private registry per instance, so several apps (tests) never share counters. */
export function createMetrics(registry = new Registry()): WebhookMetrics {
  const registers = [registry];
  return {
    registry,
    requests: new TalliedCounter({ name: 'nsm_webhook_admission_requests_total', help: 'AdmissionReviews answered, by decision', labelNames: ['decision'], registers }),
    injections: new TalliedCounter({ name: 'nsm_webhook_injections_total', help: 'pods injected, by where the services came from and sidecar kind', labelNames: ['source', 'native'], registers }),
    skips: new TalliedCounter({ name: 'nsm_webhook_skips_total', help: 'pods allowed without injection, by reason', labelNames: ['reason'], registers }),
    denials: new TalliedCounter({ name: 'nsm_webhook_denials_total', help: 'pods denied, by reason', labelNames: ['reason'], registers }),
    duration: new TalliedHistogram({ name: 'nsm_webhook_admission_duration_seconds', help: 'time to answer one AdmissionReview', labelNames: ['decision'], buckets: DURATION_BUCKETS, registers }),
    httpErrors: new Counter({ name: 'nsm_webhook_http_errors_total', help: 'requests refused before review (bad content type, size, JSON, shape)', labelNames: ['code'], registers }),
    tlsReloads: new Counter({ name: 'nsm_webhook_tls_reloads_total', help: 'serving certificate reloads, by result', labelNames: ['result'], registers }),
  };
}
