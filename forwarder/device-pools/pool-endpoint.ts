import { ConnectionContext, Keys, MechanismType, type Connection } from '../../proto/api.ts';
import { eventFactory } from '../../sdk/chain/begin.ts';
import { metaKey } from '../../sdk/chain/metadata.ts';
import type { Element } from '../../sdk/chain/types.ts';
import { NsmError } from '../../sdk/errors.ts';
import type { NetnsLookup } from '../dataplane/netns-resolver.ts';
import { clientMechanism, NEGOTIATED } from '../elements/negotiate.ts';
import { ENDPOINT, endpointKey } from '../elements/roundrobin.ts';
import type { PoolsOfNode } from './candidates.ts';
import { leaseIpContext, type LendRequest } from './lending.ts';
import type { DevicePool, Lease } from './pool.ts';
import { POOL_LABEL } from './registration.ts';

export const leaseKey = metaKey<Lease>('device-pool.lease');

export interface PoolLending extends PoolsOfNode {
  lend(pool: DevicePool, token: string, r: LendRequest): Promise<Lease>;
  giveBack(pool: DevicePool, lease: Lease): Promise<void>;
}

function answer(conn: Connection, pool: DevicePool, lease: Lease): Connection {
  const mtu = pool.config.mtu ?? lease.member.mtu ?? 0;
  return { ...conn, context: ConnectionContext.fromPartial({ ...conn.context, ipContext: leaseIpContext(pool, lease.address), MTU: mtu }) };
}

/** The address a refreshing connection already has, if it has one. */
const carried = (conn: Connection) => conn.context?.ipContext?.srcIpAddrs[0];

/**
 * The forwarder is the endpoint of its device pools: when roundrobin chose one, this element
 * answers itself and nothing after it runs. The first Request moves the device of the client's
 * token into the client's namespace (which the client names, as everywhere: its own) under the
 * requested interface name, with the pool's MTU, an address and routes; a refresh changes
 * nothing; Close (or expiry, or the pod's end seen through PodResources) moves it back.
 */
export function poolEndpoint(pools: PoolLending, resolver: NetnsLookup): Element {
  return {
    name: 'device-pool',
    needs: ['begin', 'metadata', NEGOTIATED, ENDPOINT],
    async request(ctx, req, next) {
      const nse = endpointKey.get(ctx);
      const pool = nse && pools.byEndpoint(nse.name);
      if (!pool) return next.request(ctx, req);
      const conn = req.connection!;
      const existing = leaseKey.get(ctx);
      if (existing) return answer(conn, pool, existing);
      const m = clientMechanism(ctx);
      if (m.type !== MechanismType.KERNEL) {
        throw new NsmError('FAILED_PRECONDITION', `device pool ${pool.resource} hands out kernel interfaces: ask with kernel://${conn.networkService}/<interface>?${POOL_LABEL}=${pool.resource}`);
      }
      const token = m.parameters[Keys.tokenID];
      if (!token) throw new NsmError('INTERNAL', 'device-pool needs device-pool-candidates before it');
      const events = eventFactory(ctx);
      const lease = await pools.lend(pool, token, {
        connId: conn.id,
        client: await resolver.resolve(m.parameters[Keys.inodeURL]),
        ifname: m.parameters[Keys.name],
        ...(carried(conn) ? { wantedAddress: carried(conn) } : {}),
        close: () => events.close(),
      });
      leaseKey.set(ctx, lease);
      ctx.log.info({ element: 'device-pool', connId: conn.id, resource: pool.resource, device: lease.member.device, ifname: lease.ifname }, 'lent a pool device');
      return answer(conn, pool, lease);
    },
    async close(ctx, conn, next) {
      const lease = leaseKey.delete(ctx);
      const pool = pools.byEndpoint(endpointKey.get(ctx)?.name ?? conn.networkServiceEndpointName);
      if (!pool) return next.close(ctx, conn);
      if (lease) {
        await pools.giveBack(pool, lease);
        ctx.log.info({ element: 'device-pool', connId: conn.id, device: lease.member.device }, 'took a pool device back');
      }
    },
  };
}
