import { metaKey } from '../../../sdk/chain/metadata.ts';
import { doNextOrUndo } from '../../../sdk/chain/rollback.ts';
import type { Element } from '../../../sdk/chain/types.ts';
import { NsmError } from '../../../sdk/errors.ts';
import { CLIENT_ADDRESS } from './client-addresses.ts';
import type { OwnBridge, PinnedNeighbour } from './own-bridge.ts';

const pinnedKey = metaKey<PinnedNeighbour>('pin-neighbour.pinned');

/**
 * Records each client's address and MAC on the bridge as a permanent neighbour entry before the
 * connection goes on (and removes it again should the rest fail), so the kernel keeps what a
 * restarted endpoint needs to know which addresses are taken; the bridge never has to ARP for its
 * own clients either. Close removes the entry once the rest of the chain closed.
 */
export function pinNeighbour(bridge: OwnBridge): Element {
  return {
    name: 'pin-neighbour',
    needs: [CLIENT_ADDRESS],
    async request(ctx, req, next) {
      const conn = req.connection!;
      const ip = conn.context?.ipContext?.srcIpAddrs[0]?.split('/')[0];
      const mac = conn.context?.ethernetContext?.srcMac;
      if (!ip || !mac) throw new NsmError('INTERNAL', 'pin-neighbour needs the client\'s address and MAC from client-addresses before it');
      const had = pinnedKey.get(ctx);
      if (had?.ip === ip && had.mac === mac) return next.request(ctx, req);
      return doNextOrUndo(ctx, 'pin-neighbour', async () => {
        await bridge.pin({ ip, mac });
        pinnedKey.set(ctx, { ip, mac });
      }, () => next.request(ctx, req), async () => {
        pinnedKey.delete(ctx);
        await bridge.unpin(ip);
      });
    },
    async close(ctx, conn, next) {
      const pinned = pinnedKey.delete(ctx);
      try {
        await next.close(ctx, conn);
      } finally {
        if (pinned) await bridge.unpin(pinned.ip);
      }
    },
  };
}
