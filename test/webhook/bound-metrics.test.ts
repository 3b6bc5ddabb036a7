import { Counter, Histogram, Registry } from 'prom-client';
import t from 'tap';
import { BoundCounter, BoundHistogram } from '../../webhook/bound-metrics.ts';
import { createMetrics } from '../../webhook/metrics.ts';

t.test('children bound up front count as prom-client counts, and refuse label values not listed', async (t) => {
  const ours = new Registry();
  const theirs = new Registry();
  const counter = new BoundCounter({ name: 'x_total', help: 'h', labelNames: ['decision', 'native'], registers: [ours] }, [['injected', 'skipped'], ['true', 'false']]);
  const histogram = new BoundHistogram({ name: 'x_seconds', help: 'h', labelNames: ['decision'], buckets: [0.001, 0.01], registers: [ours] }, [['injected', 'skipped']]);
  const refCounter = new Counter({ name: 'x_total', help: 'h', labelNames: ['decision', 'native'], registers: [theirs] });
  const refHistogram = new Histogram({ name: 'x_seconds', help: 'h', labelNames: ['decision'], buckets: [0.001, 0.01], registers: [theirs] });
  for (const d of ['injected', 'skipped']) for (const n of ['true', 'false']) refCounter.labels(d, n);
  for (const d of ['injected', 'skipped']) refHistogram.labels(d);
  for (const [d, n, s] of [['injected', 'true', 0.0005], ['skipped', 'false', 0.02], ['injected', 'true', 0.005]] as const) {
    counter.inc(d, n);
    histogram.observe(s, d);
    refCounter.inc({ decision: d, native: n });
    refHistogram.observe({ decision: d }, s);
  }
  t.equal(await ours.metrics(), await theirs.metrics(), 'the same exposition, zero series included');
  t.throws(() => counter.inc('denied', 'true'), /metric x_total: no series for label values \["denied","true"\]/);
  t.throws(() => histogram.observe(1, 'denied'), /metric x_seconds: no series/);
});

t.test('the webhook metrics list every decision and reason', async (t) => {
  const m = createMetrics();
  for (const d of ['injected', 'skipped', 'denied']) m.requests.inc(d);
  m.skips.inc('not-a-pod-create');
  m.denials.inc('malformed-pod');
  m.injections.inc('namespace', 'false');
  m.duration.observe(0.001, 'denied');
  t.match(await m.registry.metrics(), /nsm_webhook_denials_total\{reason="malformed-pod"\} 1/);
});
