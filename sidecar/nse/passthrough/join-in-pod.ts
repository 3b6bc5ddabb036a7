import { metaKey } from '../../../sdk/chain/metadata.ts';
import { doNextOrUndo } from '../../../sdk/chain/rollback.ts';
import type { Element } from '../../../sdk/chain/types.ts';
import type { PodJoin } from './join.ts';

/** What join-in-pod provides: what joins the connection's two ends in the pod exists. */
export const JOINED = 'passthrough-joined';

const joinedKey = metaKey<true>('join-in-pod.joined');

/**
 * Prepares the join of a connection's two ends in the pod (its two-port bridge) before the onward
 * request, and removes it again should the rest fail for a new connection, so a refused chain
 * leaves nothing in the pod. Close removes it once the rest of the chain closed.
 */
export function joinInPod(join: PodJoin): Element {
  return {
    name: 'join-in-pod',
    needs: ['metadata'],
    provides: [JOINED],
    async request(ctx, req, next) {
      const id = req.connection!.id;
      if (joinedKey.get(ctx)) return next.request(ctx, req);
      return doNextOrUndo(ctx, 'join-in-pod', () => join.prepare(id), async () => {
        const resp = await next.request(ctx, req);
        joinedKey.set(ctx, true);
        return resp;
      }, () => join.remove(id));
    },
    async close(ctx, conn, next) {
      joinedKey.delete(ctx);
      try {
        await next.close(ctx, conn);
      } finally {
        await join.remove(conn.id);
      }
    },
  };
}
