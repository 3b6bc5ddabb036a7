import { isMechanism, Keys, memifMechanism, MechanismType, type Connection, type Mechanism } from '../../proto/api.ts';
import { memifEndpointOf, memifOwnerOf, offersMemif } from '../../proto/memif.ts';
import { metaKey } from '../../sdk/chain/metadata.ts';
import { afterNextOrClose, undoThenClose } from '../../sdk/chain/rollback.ts';
import type { Element } from '../../sdk/chain/types.ts';
import { NsmError } from '../../sdk/errors.ts';
import type { MemifRendezvous } from '../dataplane/memif-rendezvous.ts';
import type { NetnsLookup } from '../dataplane/netns-resolver.ts';
import { decideLocalMechanism } from './memif-decision.ts';
import { CLIENT_OFFERS, clientOffersKey } from './client-offers.ts';
import { clientMechanism, negotiation, NEGOTIATED } from './negotiate.ts';
import { ENDPOINT, endpointKey } from './roundrobin.ts';

/** The socket path this connection's client was handed. */
export const memifLinkKey = metaKey<string>('memif-shortcut.link');

function kernelOffer(offers: readonly Mechanism[]): Mechanism {
  const k = offers.find((m) => m.type === MechanismType.KERNEL)!;
  if (!k.parameters[Keys.name] || !k.parameters[Keys.inodeURL]) {
    throw new NsmError('INVALID_ARGUMENT', 'the KERNEL fallback needs name and inodeURL: the client must name its interface and network namespace');
  }
  return k;
}

/**
 * For a client that chose MEMIF, per candidate endpoint: same node and the endpoint has a memif
 * socket → ask the endpoint for MEMIF and hand the client a link to its socket (nothing of the
 * forwarder stays in the data path); otherwise fall back to the client's KERNEL offer for the
 * elements after this one, or fail. Comes before the kernel elements (which leave MEMIF
 * connections alone). Close removes the link.
 */
export function memifShortcut(rendezvous: MemifRendezvous, resolver: NetnsLookup): Element {
  return {
    name: 'memif-shortcut',
    needs: ['metadata', NEGOTIATED, CLIENT_OFFERS, ENDPOINT],
    async request(ctx, req, next) {
      const chosen = clientMechanism(ctx);
      if (!isMechanism(chosen, MechanismType.MEMIF)) return next.request(ctx, req);
      const conn = req.connection!;
      const offers = clientOffersKey.get(ctx) ?? [chosen];
      const fresh = memifLinkKey.get(ctx) === undefined;
      if (fresh) {
        const nse = endpointKey.get(ctx)!;
        const type = decideLocalMechanism(offers.map((m) => m.type), { name: nse.name, url: nse.url, memif: offersMemif(nse, conn.networkService) });
        if (type === MechanismType.KERNEL) {
          const kernel = kernelOffer(offers);
          // As client-netns does for a KERNEL choice: a namespace that is not on this node fails
          // here, before the endpoint is asked for anything.
          await resolver.resolve(kernel.parameters[Keys.inodeURL]);
          negotiation.fallBack(ctx, offers, kernel);
          return next.request(ctx, req);
        }
      }
      const handOut = async (resp: Connection) => {
        const answer = memifEndpointOf(resp.mechanism);
        if (!answer) {
          throw new NsmError('FAILED_PRECONDITION', `endpoint ${resp.networkServiceEndpointName} answered ${resp.mechanism?.type || 'no mechanism'} instead of MEMIF with a socketfile and an id`);
        }
        const owner = memifOwnerOf(offers.find((m) => m.type === MechanismType.MEMIF) ?? chosen);
        const link = await rendezvous.ensure(conn.id, answer.socketfile, owner);
        memifLinkKey.set(ctx, link);
        negotiation.complete(ctx, { ...memifMechanism({ socketfile: link, id: answer.id }), cls: chosen.cls });
        return resp;
      };
      const memifReq = { ...req, mechanismPreferences: [memifMechanism()] };
      // A refresh keeps the link it has even when this answer cannot be used; the next one may.
      if (!fresh) return handOut(await next.request(ctx, memifReq));
      return afterNextOrClose(ctx, 'memif-shortcut', next, memifReq, handOut, () => rendezvous.remove(conn.id));
    },
    async close(ctx, conn, next) {
      const had = memifLinkKey.delete(ctx) !== undefined;
      await undoThenClose(ctx, conn, next, async () => {
        if (had || isMechanism(conn.mechanism, MechanismType.MEMIF)) await rendezvous.remove(conn.id);
      });
    },
  };
}
