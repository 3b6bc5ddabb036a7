import { Cls, type Connection, type NetworkServiceEndpoint } from '../../proto/api.ts';
import { standsForDevice } from '../../proto/external.ts';
import { chain, unmetNeeds } from '../../sdk/chain/chain.ts';
import type { Ctx, Element, NetworkServiceServer } from '../../sdk/chain/types.ts';
import { NsmError } from '../../sdk/errors.ts';
import type { ObjectStore } from '../../sdk/registry/types.ts';
import { knownClientMechanism } from './negotiate.ts';
import { endpointKey } from './roundrobin.ts';

/** Where each endpoint runs as this forwarder sees it (the peering's registry view). */
export interface EndpointLocality {
  readonly endpoints: Pick<ObjectStore<NetworkServiceEndpoint>, 'get'>;
  locality(nse: NetworkServiceEndpoint): 'local' | 'remote' | 'local-unknown';
}

/**
 * The sub-chains a connection can take besides the same-node elements:
 * - client: the endpoint is on another node (this node builds the client's end of a tunnel);
 * - endpoint: a peer forwarder asks for a tunnel to an endpoint here (this node builds its end);
 * - device: an endpoint here stands for an external device, asked by a client here (this node
 *   builds the client's end of a tunnel to the device);
 * - relay: the same endpoint, asked by a peer forwarder (its answer goes back to the peer).
 */
export interface RemoteRoutes {
  client: readonly Element[];
  endpoint: readonly Element[];
  device: readonly Element[];
  relay: readonly Element[];
}

type Route = keyof RemoteRoutes | 'local';

/** Sends a connection down the route its endpoint and caller call for; Close takes the route Request took. */
export function remoteSwitch(registry: EndpointLocality, routes: RemoteRoutes): Element & { routes: RemoteRoutes } {
  // The routes run inside the chain around the switch: what they need of it, the switch needs.
  const needs = [...new Set(Object.values(routes).flatMap((r: readonly Element[]) => unmetNeeds(r)))];
  const chains: Record<keyof RemoteRoutes, NetworkServiceServer> = {
    client: chain(routes.client, { given: needs }),
    endpoint: chain(routes.endpoint, { given: needs }),
    device: chain(routes.device, { given: needs }),
    relay: chain(routes.relay, { given: needs }),
  };
  const route = (ctx: Ctx, conn: Connection, strict: boolean): Route => {
    const nse = endpointKey.get(ctx) ?? registry.endpoints.get(conn.networkServiceEndpointName);
    const device = nse !== undefined && standsForDevice(nse, conn.networkService);
    if ((knownClientMechanism(ctx) ?? conn.mechanism)?.cls === Cls.REMOTE) return device ? 'relay' : 'endpoint';
    if (!nse) return 'local';
    const where = registry.locality(nse);
    if (where === 'local-unknown' && strict) {
      throw new NsmError('UNAVAILABLE', `endpoint ${nse.name} is on this node but has not registered again since this forwarder started; it does so within a third of its registration lifetime`);
    }
    if (where === 'remote') return 'client';
    return device && where === 'local' ? 'device' : 'local';
  };
  return {
    name: 'remote-switch',
    needs,
    routes,
    request(ctx, req, next) {
      const r = route(ctx, req.connection!, true);
      return r === 'local' ? next.request(ctx, req) : chains[r].request(ctx, req);
    },
    close(ctx, conn, next) {
      const r = route(ctx, conn, false);
      return r === 'local' ? next.close(ctx, conn) : chains[r].close(ctx, conn);
    },
  };
}
