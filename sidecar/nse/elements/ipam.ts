import { ConnectionContext } from '../../../proto/api.ts';
import { closeThenRelease } from '../../../sdk/chain/rollback.ts';
import type { Element } from '../../../sdk/chain/types.ts';
import { pairOf, type PointToPointIpam } from '../ipam.ts';

/** Gives each connection its address pair before the rest of the chain; releases it on Close. */
export function ipamElement(ipam: PointToPointIpam): Element {
  return {
    name: 'ipam',
    async request(ctx, req, next) {
      const conn = req.connection!;
      const fresh = ipam.get(conn.id) === undefined;
      const pair = ipam.allocate(conn.id, pairOf(conn.context?.ipContext));
      const context = ConnectionContext.fromPartial({ ...conn.context, ipContext: ipam.ipContext(pair) });
      try {
        return await next.request(ctx, { ...req, connection: { ...conn, context } });
      } catch (err) {
        if (fresh) ipam.release(conn.id);
        throw err;
      }
    },
    close: (ctx, conn, next) => closeThenRelease(ctx, conn, next, () => ipam.release(conn.id)),
  };
}
