import type { Mechanism } from '../../proto/api.ts';
import { ctxKey, type Element } from '../../sdk/chain/types.ts';

/** Every mechanism the client offered, in its order (negotiate keeps only the one it chose). */
export const clientOffersKey = ctxKey<readonly Mechanism[]>('client-offers');

export const CLIENT_OFFERS = 'client-offers';

export function clientOffers(): Element {
  return {
    name: 'client-offers',
    provides: [CLIENT_OFFERS],
    request: (ctx, req, next) => next.request(clientOffersKey.with(ctx, req.mechanismPreferences), req),
  };
}
