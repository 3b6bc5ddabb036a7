import { ConnectionContext } from '../../../proto/api.ts';
import { closeThenRelease } from '../../../sdk/chain/rollback.ts';
import type { Element } from '../../../sdk/chain/types.ts';
import { pairOf, type PointToPointPool } from './point-to-point-pool.ts';

/** Gives each connection its address pair before the rest of the chain; releases it on Close. */
export function assignAddresses(pool: PointToPointPool): Element {
  return {
    name: 'assign-addresses',
    async request(ctx, req, next) {
      const conn = req.connection!;
      const fresh = pool.get(conn.id) === undefined;
      const pair = pool.allocate(conn.id, pairOf(conn.context?.ipContext));
      const context = ConnectionContext.fromPartial({ ...conn.context, ipContext: pool.ipContext(pair) });
      try {
        return await next.request(ctx, { ...req, connection: { ...conn, context } });
      } catch (err) {
        if (fresh) pool.release(conn.id);
        throw err;
      }
    },
    close: (ctx, conn, next) => closeThenRelease(ctx, conn, next, () => pool.release(conn.id, pairOf(conn.context?.ipContext))),
  };
}
