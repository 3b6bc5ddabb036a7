import { Connection } from '../../proto/api.ts';
import type { Element, NetworkServiceServer } from './types.ts';
import { traced } from './trace.ts';

/** The end of every chain: a Request answers with the connection it carries, a Close does nothing. */
export const tail: NetworkServiceServer = {
  request: async (_ctx, req) => req.connection ?? Connection.fromPartial({}),
  close: async () => {},
};

function bind(element: Element, next: NetworkServiceServer): NetworkServiceServer {
  return {
    request: element.request ? (ctx, req) => element.request!(ctx, req, next) : (ctx, req) => next.request(ctx, req),
    close: element.close ? (ctx, conn) => element.close!(ctx, conn, next) : (ctx, conn) => next.close(ctx, conn),
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
