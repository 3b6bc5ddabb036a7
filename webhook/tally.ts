import { Counter, type CounterConfiguration, type Metric, type Registry } from 'prom-client';

/**
 * Metrics counted on the admission path as plain numbers and handed to prom-client only when
 * scraped: a request pays for one Map lookup per metric instead of prom-client's label hashing
 * and validation. The exposition is prom-client's own.
 */

type Labels = Record<string, string>;

/**
 * Label values to tallies through one Map per label, in the order of the label names: label values
 * are mostly constant strings, whose hashes V8 keeps, so a lookup builds no key.
 */
class TallyTree<T> {
  readonly #root = new Map<string, unknown>();
  readonly #names: readonly string[];
  readonly #make: (labels: Labels) => T;
  readonly all: T[] = [];

  constructor(names: readonly string[], make: (labels: Labels) => T) {
    this.#names = names;
    this.#make = make;
  }

  get(values: readonly string[]): T {
    if (values.length !== this.#names.length) throw new Error(`expected values for ${this.#names.join(', ')}, got ${values.length}`);
    let map = this.#root;
    for (let i = 0; i < values.length - 1; i++) {
      let next = map.get(values[i]) as Map<string, unknown> | undefined;
      if (!next) map.set(values[i], (next = new Map()));
      map = next;
    }
    const last = values.length === 0 ? '' : values[values.length - 1];
    let t = map.get(last) as T | undefined;
    if (t === undefined) {
      t = this.#make(Object.fromEntries(this.#names.map((n, i) => [n, values[i]])));
      map.set(last, t);
      this.all.push(t);
    }
    return t;
  }
}

export class TalliedCounter<L extends string> {
  readonly #tallies: TallyTree<{ labels: Labels; n: number }>;

  constructor(config: CounterConfiguration<L> & { labelNames: readonly L[] }) {
    const tallies = (this.#tallies = new TallyTree(config.labelNames, (labels) => ({ labels, n: 0 })));
    new Counter<L>({
      ...config,
      collect() {
        this.reset();
        for (const t of tallies.all) this.inc(t.labels as Partial<Record<L, string>>, t.n);
      },
    });
  }

  /** One more, for these label values in the order of the label names. */
  inc(...values: string[]): void {
    this.#tallies.get(values).n++;
  }
}

interface SeriesValue {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

interface Series {
  labels: Labels;
  /** Observations per bucket (not cumulative); the last slot is above every bound. */
  counts: number[];
  sum: number;
  count: number;
}

/**
 * A histogram with fixed buckets. prom-client has no way to hand it bucket counts, so it registers
 * itself as a metric that renders the same series a prom-client histogram does.
 */
export class TalliedHistogram<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #bounds: number[];
  readonly #labelNames: readonly L[];
  #series: TallyTree<Series>;

  constructor(config: { name: string; help: string; labelNames: readonly L[]; buckets: number[]; registers: Registry[] }) {
    this.name = config.name;
    this.help = config.help;
    this.#bounds = [...config.buckets].sort((a, b) => a - b);
    this.#labelNames = config.labelNames;
    this.#series = this.#newSeries();
    for (const r of config.registers) r.registerMetric(this as unknown as Metric);
  }

  /** One observation, for these label values in the order of the label names. */
  observe(value: number, ...values: string[]): void {
    if (!Number.isFinite(value)) throw new TypeError(`histogram ${this.name}: not a finite value: ${value}`);
    const s = this.#series.get(values);
    let i = 0;
    while (i < this.#bounds.length && value > this.#bounds[i]) i++;
    s.counts[i]++;
    s.sum += value;
    s.count++;
  }

  #newSeries(): TallyTree<Series> {
    return new TallyTree(this.#labelNames, (labels) => ({ labels, counts: new Array<number>(this.#bounds.length + 1).fill(0), sum: 0, count: 0 }));
  }

  reset(): void {
    this.#series = this.#newSeries();
  }

  /** What prom-client's registry reads from a metric when it renders it. */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: SeriesValue[] }> {
    const values: SeriesValue[] = [];
    for (const s of this.#series.all) {
      let acc = 0;
      this.#bounds.forEach((le, i) => {
        acc += s.counts[i];
        values.push({ labels: { le, ...s.labels }, value: acc, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}
