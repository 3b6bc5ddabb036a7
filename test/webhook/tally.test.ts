import fc from 'fast-check';
import { Counter, Histogram, Registry } from 'prom-client';
import t from 'tap';
import { TalliedCounter, TalliedHistogram } from '../../webhook/tally.ts';

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 1];
const observation = fc.record({
  decision: fc.constantFrom('injected', 'skipped', 'denied'),
  reason: fc.constantFrom('opt-out', 'a"quoted\\reason'),
  seconds: fc.oneof(fc.constantFrom(...BUCKETS), fc.double({ min: 0, max: 3, noNaN: true })),
});

t.test('tallied metrics render exactly what prom-client renders for the same observations', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(observation, { maxLength: 40 }), async (observations) => {
      const ours = new Registry();
      const theirs = new Registry();
      const config = { name: 'x_seconds', help: 'help', labelNames: ['decision'] as const, buckets: BUCKETS };
      const tallied = new TalliedHistogram({ ...config, labelNames: ['decision'], registers: [ours] });
      const reference = new Histogram({ ...config, labelNames: ['decision'], registers: [theirs] });
      const talliedCount = new TalliedCounter({ name: 'x_total', help: 'help', labelNames: ['decision', 'reason'], registers: [ours] });
      const referenceCount = new Counter({ name: 'x_total', help: 'help', labelNames: ['decision', 'reason'], registers: [theirs] });
      for (const o of observations) {
        tallied.observe(o.seconds, o.decision);
        reference.observe({ decision: o.decision }, o.seconds);
        talliedCount.inc(o.decision, o.reason);
        referenceCount.inc({ decision: o.decision, reason: o.reason });
      }
      const [a, b] = [await ours.metrics(), await theirs.metrics()];
      if (a !== b) throw new Error(`exposition differs:\n${a}\n---\n${b}`);
      // Scraping twice counts nothing twice.
      if ((await ours.metrics()) !== a) throw new Error('a second scrape differs');
    }),
  );
  t.pass('histogram buckets, sums, counts and counters match over random observations');
});

t.test('a value that is not a finite number is refused with the metric name', async (t) => {
  const h = new TalliedHistogram({ name: 'y_seconds', help: 'h', labelNames: ['decision'], buckets: BUCKETS, registers: [new Registry()] });
  t.throws(() => h.observe(Number.NaN, 'injected'), /histogram y_seconds: not a finite value/);
  t.throws(() => h.observe(1), /expected values for decision, got 0/);
});
