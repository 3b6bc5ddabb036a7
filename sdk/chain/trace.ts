import type { Connection, NetworkServiceRequest } from '../../proto/api.ts';
import type { Ctx, Element, NetworkServiceServer } from './types.ts';

function connId(conn: Connection | undefined): string | undefined {
  return conn?.id;
}

/**
 * Logs each element's request and response at debug level with its duration. When debug is off
 * the wrapper costs one level check per call and adds no promise of its own.
 */
export function traced(element: Element): Element {
  const name = element.name;
  const request = element.request ? element.request.bind(element) : (c: Ctx, r: NetworkServiceRequest, n: NetworkServiceServer) => n.request(c, r);
  const close = element.close ? element.close.bind(element) : (c: Ctx, x: Connection, n: NetworkServiceServer) => n.close(c, x);

  async function tracedRequest(ctx: Ctx, req: NetworkServiceRequest, next: NetworkServiceServer): Promise<Connection> {
    const start = performance.now();
    const id = connId(req.connection);
    ctx.log.debug({ element: name, connId: id, request: req }, 'request');
    try {
      const conn = await request(ctx, req, next);
      ctx.log.debug({ element: name, connId: id, durationMs: performance.now() - start, response: conn }, 'request done');
      return conn;
    } catch (err) {
      ctx.log.debug({ element: name, connId: id, durationMs: performance.now() - start, err }, 'request failed');
      throw err;
    }
  }

  async function tracedClose(ctx: Ctx, conn: Connection, next: NetworkServiceServer): Promise<void> {
    const start = performance.now();
    ctx.log.debug({ element: name, connId: conn.id }, 'close');
    try {
      await close(ctx, conn, next);
      ctx.log.debug({ element: name, connId: conn.id, durationMs: performance.now() - start }, 'close done');
    } catch (err) {
      ctx.log.debug({ element: name, connId: conn.id, durationMs: performance.now() - start, err }, 'close failed');
      throw err;
    }
  }

  return {
    name,
    request: (ctx, req, next) => (ctx.log.isLevelEnabled('debug') ? tracedRequest(ctx, req, next) : request(ctx, req, next)),
    close: (ctx, conn, next) => (ctx.log.isLevelEnabled('debug') ? tracedClose(ctx, conn, next) : close(ctx, conn, next)),
  };
}
