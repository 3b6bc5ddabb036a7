import type { Connection } from '../../proto/api.ts';
import { eventFactory } from '../chain/begin.ts';
import { metaKey } from '../chain/metadata.ts';
import type { Element } from '../chain/types.ts';

const timerKey = metaKey<NodeJS.Timeout>('timeout.timer');

function withExpiry(conn: Connection, expires: Date): Connection {
  const index = conn.path?.index ?? 0;
  const segments = (conn.path?.pathSegments ?? []).map((s, i) => (i === index ? { ...s, expires } : s));
  return { ...conn, path: { index, pathSegments: segments } };
}

/**
 * Sets `expires` on this hop's path segment and closes the connection when that moment passes
 * without a refresh (the close is a begin event).
 */
export function timeout(lifetimeMs: number, now: () => number = Date.now): Element {
  return {
    name: 'timeout',
    needs: ['begin', 'metadata'],
    async request(ctx, req, next) {
      const conn = await next.request(ctx, req);
      const expires = new Date(now() + lifetimeMs);
      clearTimeout(timerKey.get(ctx));
      const events = eventFactory(ctx);
      const timer = setTimeout(() => {
        ctx.log.info({ element: 'timeout', connId: conn.id }, 'client stopped refreshing; closing the connection');
        events.close().catch((err: unknown) => ctx.log.error({ element: 'timeout', connId: conn.id, err }, 'closing an expired connection failed'));
      }, lifetimeMs);
      timer.unref();
      timerKey.set(ctx, timer);
      return withExpiry(conn, expires);
    },
    async close(ctx, conn, next) {
      clearTimeout(timerKey.delete(ctx));
      await next.close(ctx, conn);
    },
  };
}
