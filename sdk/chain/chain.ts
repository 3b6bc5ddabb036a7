import { Connection } from '../../proto/api.ts';
import type { Element, NetworkServiceServer } from './types.ts';
import { tracing } from '../telemetry/tracing.ts';
import { spanned } from './spans.ts';
import { traced } from './trace.ts';

/** The end of every chain: a Request answers with the connection it carries, a Close does nothing. */
export const tail: NetworkServiceServer = {
  request: async (_ctx, req) => req.connection ?? Connection.fromPartial({}),
  close: async () => {},
};

/** Calls `f`; an `f` that throws before returning its promise gives a rejected one instead. */
function promised<A, B, C, R>(f: (a: A, b: B, c: C) => Promise<R>, a: A, b: B, c: C): Promise<R> {
  try {
    return f(a, b, c);
  } catch (err) {
    return Promise.reject(err);
  }
}

/** Every call through a chain returns a promise, whatever an element does. */
function bind(element: Element, next: NetworkServiceServer): NetworkServiceServer {
  const request = element.request?.bind(element);
  const close = element.close?.bind(element);
  return {
    request: request ? (ctx, req) => promised(request, ctx, req, next) : (ctx, req) => next.request(ctx, req),
    close: close ? (ctx, conn) => promised(close, ctx, conn, next) : (ctx, conn) => next.close(ctx, conn),
  };
}

export interface ChainOptions {
  /** Wrap each element in a debug-level trace (default true; costs nothing unless debug is on). */
  trace?: boolean;
  /** What the chain this one runs inside has provided before it (for sub-chains). */
  given?: readonly string[];
}

export class ChainOrderError extends Error {}

/** What the elements need that none of them provides before it: what a chain around them must provide. */
export function unmetNeeds(elements: readonly Element[]): string[] {
  const provided = new Set<string>();
  const unmet = new Set<string>();
  for (const e of elements) {
    for (const n of e.needs ?? []) if (!provided.has(n)) unmet.add(n);
    for (const p of e.provides ?? []) provided.add(p);
  }
  return [...unmet];
}

/** Throws when an element needs something no element before it provides, naming both and the order. */
export function checkOrder(elements: readonly Element[], given: readonly string[] = []): void {
  const provided = new Set(given);
  for (const e of elements) {
    const missing = (e.needs ?? []).filter((n) => !provided.has(n));
    if (missing.length > 0) {
      const order = elements.map((x) => x.name).join(' -> ');
      const by = (n: string) => elements.find((x) => x.provides?.includes(n))?.name;
      const hint = missing.map((n) => (by(n) ? `"${n}" (provided by ${by(n)}, which must come before it)` : `"${n}" (provided by no element of this chain)`)).join(', ');
      throw new ChainOrderError(`chain element "${e.name}" needs ${hint}; order: ${order}`);
    }
    for (const p of e.provides ?? []) provided.add(p);
  }
}

/**
 * Composes elements in order: the first sees a call first and its response last. The order is
 * checked first (needs and provides), so a wrong order fails when the chain is built.
 */
export function chain(elements: readonly Element[], options: ChainOptions = {}): NetworkServiceServer {
  checkOrder(elements, options.given);
  const trace = options.trace ?? true;
  // Decided once, when the chain is built: with tracing off no element has a span wrapper.
  const tracer = tracing();
  let next = tail;
  for (let i = elements.length - 1; i >= 0; i--) {
    const logged = trace ? traced(elements[i]) : elements[i];
    next = bind(tracer ? spanned(logged, tracer) : logged, next);
  }
  return next;
}
