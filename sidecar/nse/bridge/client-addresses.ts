import { ConnectionContext } from '../../../proto/api.ts';
import { closeThenRelease, doNextOrUndo } from '../../../sdk/chain/rollback.ts';
import type { Element } from '../../../sdk/chain/types.ts';
import { macOf } from './mac.ts';
import type { SubnetPool } from './subnet-pool.ts';

/** What client-addresses provides: the connection's context carries the client's address and MAC. */
export const CLIENT_ADDRESS = 'bridge-client-address';

/**
 * Gives a client its address on the bridge's subnet (with the prefix's length) and its MAC, and
 * names the bridge's address and MAC as the endpoint's (upstream's src = client, dst = endpoint).
 * A refresh keeps them; a refresh after an endpoint restart gets back the address it carries.
 * Close releases the address.
 */
export function clientAddresses(pool: SubnetPool, bridgeName: string): Element {
  const bridgeMac = macOf(pool.bridgeAddress);
  return {
    name: 'client-addresses',
    provides: [CLIENT_ADDRESS],
    async request(ctx, req, next) {
      const conn = req.connection!;
      const fresh = pool.get(conn.id) === undefined;
      const wanted = conn.context?.ipContext?.srcIpAddrs[0]?.split('/')[0];
      return doNextOrUndo(ctx, 'client-addresses', async () => pool.allocate(conn.id, wanted), (ip) => {
        const context = ConnectionContext.fromPartial({
          ...conn.context,
          ipContext: { srcIpAddrs: [pool.withLength(ip)], dstIpAddrs: [pool.withLength(pool.bridgeAddress)] },
          ethernetContext: { srcMac: macOf(ip), dstMac: bridgeMac },
          extraContext: { ...conn.context?.extraContext, bridge: bridgeName },
        });
        return next.request(ctx, { ...req, connection: { ...conn, context } });
      }, async () => {
        if (fresh) pool.release(conn.id);
      });
    },
    close: (ctx, conn, next) => closeThenRelease(ctx, conn, next, () => pool.release(conn.id)),
  };
}
