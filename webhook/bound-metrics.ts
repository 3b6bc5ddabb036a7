import { Counter, Histogram, type Registry } from 'prom-client';

/**
 * prom-client metrics whose children (one per combination of label values) are bound when the
 * metric is made, from the label values listed up front: a request pays for one Map lookup, not
 * for prom-client's label hashing. A combination not listed is refused, naming the metric.
 */
function combinations(values: readonly (readonly string[])[]): string[][] {
  return values.reduce<string[][]>((acc, vs) => acc.flatMap((a) => vs.map((v) => [...a, v])), [[]]);
}

function child<C>(name: string, children: Map<string, C>, values: readonly string[]): C {
  const c = children.get(values.join('\0'));
  if (c === undefined) throw new Error(`metric ${name}: no series for label values ${JSON.stringify(values)}`);
  return c;
}

export class BoundCounter<L extends string> {
  readonly #name: string;
  readonly #children = new Map<string, Counter.Internal>();

  constructor(config: { name: string; help: string; labelNames: readonly L[]; registers: Registry[] }, values: readonly (readonly string[])[]) {
    this.#name = config.name;
    const counter = new Counter<L>({ ...config, labelNames: [...config.labelNames] });
    for (const combo of combinations(values)) this.#children.set(combo.join('\0'), counter.labels(...combo));
  }

  /** One more, for these label values in the order of the label names. */
  inc(...values: string[]): void {
    child(this.#name, this.#children, values).inc();
  }
}

export class BoundHistogram<L extends string> {
  readonly #name: string;
  readonly #children = new Map<string, Histogram.Internal<L>>();

  constructor(config: { name: string; help: string; labelNames: readonly L[]; buckets: number[]; registers: Registry[] }, values: readonly (readonly string[])[]) {
    this.#name = config.name;
    const histogram = new Histogram<L>({ ...config, labelNames: [...config.labelNames] });
    for (const combo of combinations(values)) this.#children.set(combo.join('\0'), histogram.labels(...combo));
  }

  /** One observation, for these label values in the order of the label names. */
  observe(value: number, ...values: string[]): void {
    child(this.#name, this.#children, values).observe(value);
  }
}
