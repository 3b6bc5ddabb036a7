import { ConnectionContext, type Connection } from '../../../proto/api.ts';
import type { Element } from '../../../sdk/chain/types.ts';
import type { PodJoin } from './join.ts';
import { JOINED } from './join-in-pod.ts';
import type { OnwardConnections } from './onward-connections.ts';

const smallest = (...mtus: number[]) => Math.min(...mtus.filter((m) => m > 0), Infinity);

/** The incoming path up to this passthrough, then the onward path after it: every hop of the chain in order. */
function splicedPath(incoming: Connection, onward: Connection): Connection['path'] {
  const index = incoming.path?.index ?? 0;
  const mine = (incoming.path?.pathSegments ?? []).slice(0, index + 1);
  return { index, pathSegments: [...mine, ...(onward.path?.pathSegments ?? []).slice(index + 1)] };
}

/**
 * For each incoming Request, requests (or refreshes) the same service onward and answers the
 * client with what the last endpoint of the chain handed out: its addresses and routes (as the
 * pod's join lets them through), the smallest MTU of the path, and the whole path. A failing
 * onward request fails the incoming one with the next hop's words; a failure after it closes the
 * onward connection again. Close closes the onward connection first.
 */
export function requestOnward(onwards: OnwardConnections, join: PodJoin): Element {
  return {
    name: 'request-onward',
    needs: [JOINED],
    async request(ctx, req, next) {
      const incoming = req.connection!;
      const { onward, fresh } = onwards.of(incoming);
      let answer: Connection;
      try {
        answer = await onward.request(incoming, ctx.signal);
      } catch (err) {
        if (fresh) await onwards.close(incoming.id);
        throw err;
      }
      const mtu = smallest(incoming.context?.MTU ?? 0, answer.context?.MTU ?? 0);
      const context = ConnectionContext.fromPartial({
        ...answer.context,
        ipContext: join.incomingIpContext(answer.context?.ipContext),
        MTU: Number.isFinite(mtu) ? mtu : 0,
      });
      try {
        const resp = await next.request(ctx, { ...req, connection: { ...incoming, context } });
        if (!fresh) ctx.log.debug({ element: 'request-onward', connId: incoming.id }, 'refreshed the onward connection');
        else ctx.log.info({ element: 'request-onward', connId: incoming.id, hops: onward.hops() }, 'requested the chain onward');
        return { ...resp, path: splicedPath(incoming, answer) };
      } catch (err) {
        if (fresh) await onwards.close(incoming.id);
        throw err;
      }
    },
    async close(ctx, conn, next) {
      try {
        await onwards.close(conn.id);
      } finally {
        await next.close(ctx, conn);
      }
    },
  };
}
