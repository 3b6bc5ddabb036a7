import { Keys, type NetworkServiceEndpoint } from '../../proto/api.ts';
import type { Element } from '../../sdk/chain/types.ts';
import { NsmError } from '../../sdk/errors.ts';
import { CANDIDATES, candidatesKey } from '../elements/discover.ts';
import { clientMechanism, NEGOTIATED } from '../elements/negotiate.ts';
import type { DevicePool } from './pool.ts';
import { POOL_LABEL } from './registration.ts';
import { tokensEnvName } from './tokens.ts';

/** What the pool elements need of the node's pools. */
export interface PoolsOfNode {
  byEndpoint(name: string): DevicePool | undefined;
  ofToken(token: string): DevicePool | undefined;
}

const howToAsk = (resource: string) =>
  `put "${resource}: 1" in resources.limits of the container that runs nsm nsc init, and ?${POOL_LABEL}=${resource} in its NS URL (the kubelet then hands it a token in ${tokensEnvName(resource)})`;

/**
 * Among the endpoints discover found, device pools (endpoints labelled with their resource) can
 * serve only a client that claims one of their tokens, and only on the node whose kubelet handed
 * the token out: a request with a token goes to this node's pool of that token; one without
 * goes to the other endpoints, or fails with FAILED_PRECONDITION saying what to put in
 * resources.limits when only pools serve the service.
 */
export function poolCandidates(pools: PoolsOfNode): Element {
  return {
    name: 'device-pool-candidates',
    needs: ['metadata', NEGOTIATED, CANDIDATES],
    async request(ctx, req, next) {
      const conn = req.connection!;
      const candidates = candidatesKey.get(ctx) ?? [];
      const resourceOf = (e: NetworkServiceEndpoint) => e.networkServiceLabels[conn.networkService]?.labels[POOL_LABEL];
      const poolResources = [...new Set(candidates.map(resourceOf).filter((r): r is string => r !== undefined))];
      if (poolResources.length === 0) return next.request(ctx, req);
      const asked = conn.labels[POOL_LABEL];
      const resource = asked && poolResources.includes(asked) ? asked : poolResources[0];
      const token = clientMechanism(ctx).parameters[Keys.tokenID];
      if (!token) {
        const others = candidates.filter((e) => resourceOf(e) === undefined);
        if (others.length > 0) return next.request(candidatesKey.with(ctx, others), req);
        throw new NsmError('FAILED_PRECONDITION', `network service ${conn.networkService} is served from device pools (${poolResources.join(', ')}), and the request claims no token: ${howToAsk(resource)}`);
      }
      const pool = pools.ofToken(token);
      if (!pool) throw new NsmError('FAILED_PRECONDITION', `token ${token} was not handed out by a device pool of this node: a pod claims a token its own node's kubelet gave it; ${howToAsk(resource)}`);
      const own = candidates.find((e) => e.name === pool.endpointName);
      if (!own) {
        throw new NsmError('FAILED_PRECONDITION', `token ${token} is of device pool ${pool.resource}, which does not serve network service ${conn.networkService} here (it serves ${pool.config.service}${candidates.length > 0 ? ', or the service\'s matches lead elsewhere' : ''}): ${howToAsk(resource)}`);
      }
      return next.request(candidatesKey.with(ctx, [own]), req);
    },
  };
}
