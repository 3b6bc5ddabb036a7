import { ConnectionContext } from '../../../proto/api.ts';
import { chain } from '../../../sdk/chain/chain.ts';
import type { Element } from '../../../sdk/chain/types.ts';
import { kernelAnswer } from '../elements/kernel-answer.ts';
import type { BridgeDomain } from './domain.ts';
import { BRIDGE_PEER_LABEL } from './labels.ts';

/**
 * Answers the link a later bridge of the domain asks for (labelled with its name): an isolated
 * port of this bridge, no addresses (a link carries the clients' frames, it has none of its own).
 * The domain keeps count of its links; every other request goes on to the client elements.
 */
export function peerLinks(domain: BridgeDomain, netnsUrl: string, bridge: string): Element {
  const answer = chain([kernelAnswer(netnsUrl, { bridge, isolated: true })], { trace: false });
  return {
    name: 'peer-links',
    async request(ctx, req, next) {
      const conn = req.connection!;
      const peer = conn.labels[BRIDGE_PEER_LABEL];
      if (!peer) return next.request(ctx, req);
      const mtu = conn.context?.MTU ?? 0;
      const resp = await answer.request(ctx, { ...req, connection: { ...conn, context: ConnectionContext.fromPartial({ MTU: mtu, extraContext: conn.context?.extraContext }) } });
      domain.linkedFrom(conn.id, peer, mtu);
      return resp;
    },
    async close(ctx, conn, next) {
      if (!domain.unlinked(conn.id)) await next.close(ctx, conn);
    },
  };
}
