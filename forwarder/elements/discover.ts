import type { NetworkServiceEndpoint } from '../../proto/api.ts';
import { ctxKey, type Element } from '../../sdk/chain/types.ts';
import { NsmError } from '../../sdk/errors.ts';
import { isExpired, selectEndpoints } from '../../sdk/registry/match.ts';
import type { RegistryBackend } from '../../sdk/registry/types.ts';

export const CANDIDATES = 'candidates';
export const candidatesKey = ctxKey<NetworkServiceEndpoint[]>('discover.candidates');

/**
 * Finds the endpoints a request may go to: the one it already uses (refresh), or the live
 * endpoints of its service that the service's matches allow for the connection's labels. Copies
 * the service payload onto the connection.
 * While the registry cannot be reached, a request that names no endpoint fails naming the
 * registry, and registrations do not expire (endpoints cannot refresh them), so existing
 * connections keep being refreshed.
 */
export function discover(registry: RegistryBackend, now: () => Date = () => new Date()): Element {
  return {
    name: 'discover',
    provides: [CANDIDATES],
    async request(ctx, req, next) {
      const conn = req.connection!;
      const service = conn.networkService;
      if (!service) throw new NsmError('INVALID_ARGUMENT', 'request names no network service; set connection.network_service');
      const problem = registry.problem?.();
      if (problem && !conn.networkServiceEndpointName) {
        throw new NsmError('UNAVAILABLE', `${problem}; existing connections are kept and refreshed, new ones are made once it answers again`);
      }
      const ns = registry.services.get(service);
      if (!ns) throw new NsmError('NOT_FOUND', `network service "${service}" is not registered: apply its NetworkService or start an endpoint that provides it`);
      const live = registry.endpoints.list().filter((e) => problem !== undefined || !isExpired(e, now()));
      let candidates: NetworkServiceEndpoint[];
      if (conn.networkServiceEndpointName) {
        const chosen = live.find((e) => e.name === conn.networkServiceEndpointName && e.networkServiceNames.includes(service));
        if (!chosen) throw new NsmError('NOT_FOUND', `endpoint "${conn.networkServiceEndpointName}" of network service "${service}" is no longer registered; request the service again to pick another`);
        candidates = [chosen];
      } else {
        candidates = selectEndpoints(ns, conn.labels, live);
        if (candidates.length === 0) {
          const any = live.some((e) => e.networkServiceNames.includes(service));
          throw new NsmError('NOT_FOUND', any
            ? `no endpoint of network service "${service}" matches the labels ${JSON.stringify(conn.labels)}`
            : `no endpoint registered for network service "${service}"`);
        }
      }
      return next.request(candidatesKey.with(ctx, candidates), { ...req, connection: { ...conn, payload: ns.payload || conn.payload } });
    },
  };
}
