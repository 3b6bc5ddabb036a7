import { Cls, type Connection } from '../../proto/api.ts';
import { chain, unmetNeeds } from '../../sdk/chain/chain.ts';
import type { Ctx, Element } from '../../sdk/chain/types.ts';
import { NsmError } from '../../sdk/errors.ts';
import type { NetworkServiceEndpoint } from '../../proto/api.ts';
import type { ObjectStore } from '../../sdk/registry/types.ts';
import { knownClientMechanism } from './negotiate.ts';
import { endpointKey } from './roundrobin.ts';

/** Where each endpoint runs as this forwarder sees it (the peering's registry view). */
export interface EndpointLocality {
  readonly endpoints: Pick<ObjectStore<NetworkServiceEndpoint>, 'get'>;
  locality(nse: NetworkServiceEndpoint): 'local' | 'remote' | 'local-unknown';
}

type Side = 'local' | 'client' | 'endpoint';

/**
 * Sends a connection down one of three paths: a REMOTE mechanism from a peer forwarder makes this
 * the endpoint side of a tunnel; an endpoint on another node makes it the client side; anything
 * else continues with the same-node elements after this one. Close takes the path Request took.
 */
export function remoteSwitch(registry: EndpointLocality, clientSide: readonly Element[], endpointSide: readonly Element[]): Element & { clientSide: readonly Element[]; endpointSide: readonly Element[] } {
  // The two sides run inside the chain around the switch: what they need of it, the switch needs.
  const needs = [...new Set([...unmetNeeds(clientSide), ...unmetNeeds(endpointSide)])];
  const toPeer = chain(clientSide, { given: needs });
  const fromPeer = chain(endpointSide, { given: needs });
  const side = (ctx: Ctx, conn: Connection, strict: boolean): Side => {
    if ((knownClientMechanism(ctx) ?? conn.mechanism)?.cls === Cls.REMOTE) return 'endpoint';
    const nse = endpointKey.get(ctx) ?? registry.endpoints.get(conn.networkServiceEndpointName);
    if (!nse) return 'local';
    const where = registry.locality(nse);
    if (where === 'local-unknown' && strict) {
      throw new NsmError('UNAVAILABLE', `endpoint ${nse.name} is on this node but has not registered again since this forwarder started; it does so within a third of its registration lifetime`);
    }
    return where === 'remote' ? 'client' : 'local';
  };
  return {
    name: 'remote-switch',
    needs,
    clientSide,
    endpointSide,
    request(ctx, req, next) {
      const s = side(ctx, req.connection!, true);
      return s === 'client' ? toPeer.request(ctx, req) : s === 'endpoint' ? fromPeer.request(ctx, req) : next.request(ctx, req);
    },
    close(ctx, conn, next) {
      const s = side(ctx, conn, false);
      return s === 'client' ? toPeer.close(ctx, conn) : s === 'endpoint' ? fromPeer.close(ctx, conn) : next.close(ctx, conn);
    },
  };
}
