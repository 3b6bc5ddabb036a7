import type { Element } from '../../sdk/chain/types.ts';
import { NsmError } from '../../sdk/errors.ts';
import { CANDIDATES, candidatesKey } from '../elements/discover.ts';
import type { Healer } from './healer.ts';

/**
 * Leaves out of discover's candidates the endpoints whose registration outlives them: those this
 * forwarder judged gone, and local ones whose process is not running (killed, or restarting).
 * - none left for a new request: NOT_FOUND saying so (the client waits for one to register);
 * - a refresh naming a gone endpoint: NOT_FOUND (the client reselects);
 * - a refresh naming one that is not running: UNAVAILABLE at once (the client keeps the
 *   connection, whose data path is in the kernel, and tries again), instead of waiting out a dial.
 * Place it right after discover.
 */
export function liveEndpoints(healer: Healer): Element {
  return {
    name: 'live-endpoints',
    needs: [CANDIDATES],
    async request(ctx, req, next) {
      const candidates = candidatesKey.get(ctx) ?? [];
      const why = await Promise.all(candidates.map((e) => healer.notLive(e)));
      const live = candidates.filter((_, i) => why[i] === undefined);
      if (live.length === candidates.length) return next.request(ctx, req);
      const conn = req.connection!;
      if (live.length > 0) return next.request(candidatesKey.with(ctx, live), req);
      const reasons = why.map((w) => w!.why).join('; ');
      if (conn.networkServiceEndpointName) {
        if (why.every((w) => w!.gone)) throw new NsmError('NOT_FOUND', `${reasons}; request the network service again to reach another endpoint`);
        throw new NsmError('UNAVAILABLE', `${reasons}; the connection is kept (its data path is in the kernel) and refreshed once it runs again`);
      }
      throw new NsmError('NOT_FOUND', `no endpoint of network service "${conn.networkService}" is running (${reasons}); waiting for one to register`);
    },
  };
}
