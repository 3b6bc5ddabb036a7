import { ConnectionContext } from '../../../proto/api.ts';
import type { Element } from '../../../sdk/chain/types.ts';
import type { BridgeDomain } from './domain.ts';

/**
 * Gives each client the domain's MTU: the smallest of this bridge's links (a VXLAN hop costs 50
 * bytes), or the tunnel's when the client itself comes through one and that is smaller. Until this
 * bridge is linked with every bridge registered in the domain (at most `settleMs` after start) the
 * first clients wait, so they are not sized before the links that decide their size exist; a
 * later, smaller link reaches clients with their next refresh.
 */
export function domainMtu(domain: BridgeDomain, domainName: string, settleMs: number): Element {
  let settled: Promise<unknown> | undefined;
  return {
    name: 'domain-mtu',
    async request(ctx, req, next) {
      settled ??= domain.settled(settleMs);
      await settled;
      const conn = req.connection!;
      const mtus = [conn.context?.MTU ?? 0, domain.mtu].filter((m) => m > 0);
      const context = ConnectionContext.fromPartial({
        ...conn.context,
        MTU: mtus.length > 0 ? Math.min(...mtus) : 0,
        extraContext: { ...conn.context?.extraContext, bridge_domain: domainName },
      });
      return next.request(ctx, { ...req, connection: { ...conn, context } });
    },
  };
}
