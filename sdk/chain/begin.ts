import type { Connection, NetworkServiceRequest } from '../../proto/api.ts';
import { NsmError } from '../errors.ts';
import { KeyedSerializer } from './serialize.ts';
import { ctxKey, newCtx, type Ctx, type Element, type NetworkServiceServer } from './types.ts';

/**
 * begin: the concurrency rules of a chain, so the elements after it can stay simple.
 *
 * - Scope: events are grouped by connection id.
 * - Exclusivity: at most one event (Request, Close, or one started from the chain) runs per id.
 * - Order: events for one id run in the order they reached begin.
 * - Close correctness: Close carries the connection the last successful Request returned, so
 *   later elements undo exactly what they did; a Close for an unknown id passes through.
 * - Events from inside the chain (refresh, expiry, heal) go through `eventFactory(ctx)` and are
 *   queued like calls from outside. Never await them from inside a running event for the same id:
 *   that waits for itself.
 *
 * Place it before any element that keeps state or changes the connection on the way back.
 */
export interface EventFactory {
  request(options?: { signal?: AbortSignal }): Promise<Connection>;
  close(options?: { signal?: AbortSignal }): Promise<void>;
}

const eventsKey = ctxKey<EventFactory>('begin.events');

export function eventFactory(ctx: Ctx): EventFactory {
  const events = eventsKey.get(ctx);
  if (!events) throw new NsmError('INTERNAL', 'this element starts its own events: put begin before it in the chain');
  return events;
}

interface Entry {
  request: NetworkServiceRequest;
  conn: Connection;
}

export function begin(): Element & { readonly connections: () => ReadonlyMap<string, Connection> } {
  const serializer = new KeyedSerializer();
  const entries = new Map<string, Entry>();

  function factory(ctx: Ctx, id: string, next: NetworkServiceServer): EventFactory {
    const background = (signal?: AbortSignal): Ctx => ({ ...newCtx(ctx.log, signal), values: ctx.values });
    return {
      request: (options = {}) => serializer.run(id, async () => {
        const entry = entries.get(id);
        if (!entry) throw new NsmError('NOT_FOUND', `connection ${id} is closed; nothing to refresh`);
        const req = { ...entry.request, connection: entry.conn };
        const conn = await next.request(withEvents(background(options.signal), id, next), req);
        entries.set(id, { request: req, conn });
        return conn;
      }),
      close: (options = {}) => serializer.run(id, async () => {
        const entry = entries.get(id);
        if (!entry) return;
        entries.delete(id);
        await next.close(withEvents(background(options.signal), id, next), entry.conn);
      }),
    };
  }

  function withEvents(ctx: Ctx, id: string, next: NetworkServiceServer): Ctx {
    return eventsKey.with(ctx, factory(ctx, id, next));
  }

  return {
    name: 'begin',
    provides: ['begin'],
    connections: () => new Map([...entries].map(([id, e]) => [id, e.conn])),
    request(ctx, req, next) {
      const id = req.connection?.id;
      if (!id) return Promise.reject(new NsmError('INVALID_ARGUMENT', 'request has no connection id; set connection.id'));
      return serializer.run(id, async () => {
        ctx.signal.throwIfAborted();
        const conn = await next.request(withEvents(ctx, id, next), req);
        entries.set(id, { request: req, conn });
        return conn;
      });
    },
    close(ctx, conn, next) {
      return serializer.run(conn.id, async () => {
        const entry = entries.get(conn.id);
        entries.delete(conn.id);
        await next.close(withEvents(ctx, conn.id, next), entry?.conn ?? conn);
      });
    },
  };
}
