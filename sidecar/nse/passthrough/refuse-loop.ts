import type { Element } from '../../../sdk/chain/types.ts';
import { NsmError } from '../../../sdk/errors.ts';

/**
 * A passthrough that finds itself earlier on the path of a connection it receives is routed back
 * to itself by the service's matches: the request is refused before anything is set up, naming the
 * hops, instead of requesting onward again and again.
 */
export function refuseLoop(me: string): Element {
  return {
    name: 'refuse-loop',
    async request(ctx, req, next) {
      const conn = req.connection!;
      const index = conn.path?.index ?? 0;
      const segments = conn.path?.pathSegments ?? [];
      if (segments.slice(0, index).some((s) => s.name === me)) {
        const hops = segments.slice(0, index + 1).map((s) => s.name).join(' → ');
        throw new NsmError('FAILED_PRECONDITION', `the matches of network service "${conn.networkService}" route passthrough ${me} back to itself (${hops}): give each function of the chain labels that its match sends to the next one`);
      }
      return next.request(ctx, req);
    },
  };
}
