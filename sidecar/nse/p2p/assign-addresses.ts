import { ConnectionContext } from '../../../proto/api.ts';
import { closeThenRelease } from '../../../sdk/chain/rollback.ts';
import type { Element } from '../../../sdk/chain/types.ts';
import { pairOf, type PointToPointPool } from './point-to-point-pool.ts';

const HIGH_WATER = 0.9;

/**
 * Gives each connection its address pair before the rest of the chain; releases it on Close.
 * Says once in the log when the pool reaches 90 % used (again after it fell back below).
 */
export function assignAddresses(pool: PointToPointPool): Element {
  let warned = false;
  return {
    name: 'assign-addresses',
    async request(ctx, req, next) {
      const conn = req.connection!;
      const fresh = pool.get(conn.id) === undefined;
      const pair = pool.allocate(conn.id, pairOf(conn.context?.ipContext));
      const share = pool.used / pool.size;
      if (share >= HIGH_WATER && !warned) ctx.log.warn({ pool: pool.cidr, used: pool.used, size: pool.size }, 'the address pool is 90 % used; give the endpoint a larger NSM_CIDR_PREFIX before it runs out');
      warned = share >= HIGH_WATER;
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
