import type { Element } from '../../sdk/chain/types.ts';
import { NsmError } from '../../sdk/errors.ts';
import { candidatesKey } from '../elements/discover.ts';
import type { GoneEndpoints } from './gone-endpoints.ts';

/**
 * Leaves out of discover's candidates the endpoints this forwarder judged gone whose
 * registration has not expired yet. A refresh naming such an endpoint, and a request that has
 * only such endpoints, fail with NOT_FOUND naming why. Place it right after discover.
 */
export function skipGoneEndpoints(gone: GoneEndpoints): Element {
  return {
    name: 'skip-gone',
    async request(ctx, req, next) {
      const candidates = candidatesKey.get(ctx) ?? [];
      const live = candidates.filter((e) => gone.why(e) === undefined);
      if (live.length === candidates.length) return next.request(ctx, req);
      const conn = req.connection!;
      if (live.length === 0) {
        const reasons = candidates.map((e) => gone.why(e)).join('; ');
        throw new NsmError('NOT_FOUND', conn.networkServiceEndpointName
          ? `${reasons}; request the network service again to reach another endpoint`
          : `no endpoint of network service "${conn.networkService}" is alive (${reasons}); waiting for one to register`);
      }
      return next.request(candidatesKey.with(ctx, live), req);
    },
  };
}
