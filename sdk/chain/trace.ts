import type { Connection, NetworkServiceRequest } from '../../proto/api.ts';
import type { Ctx, Element, NetworkServiceServer } from './types.ts';

function connId(conn: Connection | undefined): string | undefined {
  return conn?.id;
}

/**
 * Logs each element's request and response at debug level with its duration. When debug is off
 * the wrapper costs one level check per call.
 */
export function traced(element: Element): Element {
  const name = element.name;
  return {
    name,
    request: async (ctx: Ctx, req: NetworkServiceRequest, next: NetworkServiceServer) => {
      const call = element.request ? element.request.bind(element) : (c: Ctx, r: NetworkServiceRequest, n: NetworkServiceServer) => n.request(c, r);
      if (!ctx.log.isLevelEnabled('debug')) return call(ctx, req, next);
      const start = performance.now();
      const id = connId(req.connection);
      ctx.log.debug({ element: name, connId: id, request: req }, 'request');
      try {
        const conn = await call(ctx, req, next);
        ctx.log.debug({ element: name, connId: id, durationMs: performance.now() - start, response: conn }, 'request done');
        return conn;
      } catch (err) {
        ctx.log.debug({ element: name, connId: id, durationMs: performance.now() - start, err }, 'request failed');
        throw err;
      }
    },
    close: async (ctx: Ctx, conn: Connection, next: NetworkServiceServer) => {
      const call = element.close ? element.close.bind(element) : (c: Ctx, x: Connection, n: NetworkServiceServer) => n.close(c, x);
      if (!ctx.log.isLevelEnabled('debug')) return call(ctx, conn, next);
      const start = performance.now();
      ctx.log.debug({ element: name, connId: conn.id }, 'close');
      try {
        await call(ctx, conn, next);
        ctx.log.debug({ element: name, connId: conn.id, durationMs: performance.now() - start }, 'close done');
      } catch (err) {
        ctx.log.debug({ element: name, connId: conn.id, durationMs: performance.now() - start, err }, 'close failed');
        throw err;
      }
    },
  };
}
