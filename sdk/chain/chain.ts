import { Connection } from '../../proto/api.ts';
import type { Element, NetworkServiceServer } from './types.ts';
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
}

/** Composes elements in order: the first sees a call first and its response last. */
export function chain(elements: readonly Element[], options: ChainOptions = {}): NetworkServiceServer {
  const trace = options.trace ?? true;
  let next = tail;
  for (let i = elements.length - 1; i >= 0; i--) {
    const element = trace ? traced(elements[i]) : elements[i];
    next = bind(element, next);
  }
  return next;
}
