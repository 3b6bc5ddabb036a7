import { MEMIF_ENDPOINT_LABEL } from '../../../proto/memif.ts';
import { ownNetnsUrl } from '../../../sdk/netns.ts';
import { kernelAnswer } from '../elements/kernel-answer.ts';
import type { EndpointMode } from '../modes.ts';
import { poolMetrics } from '../pool-metrics.ts';
import { assignAddresses } from './assign-addresses.ts';
import { MemifIds } from './memif-ids.ts';
import { memifAnswer } from './memif-answer.ts';
import { PointToPointPool } from './point-to-point-pool.ts';
import { pairsOnInterfaces } from './addresses-in-use.ts';
import type { EndpointOptions } from '../options.ts';

/**
 * Reserves the addresses that connections made before this process started still use on the
 * pod's interfaces (the endpoint process restarted in the same pod), so no new connection gets
 * them; each is claimed by its connection's next refresh, and what no refresh claims within a
 * connection lifetime is freed.
 */
function adoptAddresses(o: EndpointOptions, pool: PointToPointPool): void {
  const reserved = pairsOnInterfaces().filter((p) => pool.reserve(p)).length;
  if (reserved === 0) return;
  o.log.info({ pairs: reserved }, 'found the addresses of connections made before this endpoint started; keeping them for their refreshes');
  setTimeout(() => {
    const freed = pool.releaseUnclaimed();
    if (freed > 0) o.log.info({ pairs: freed }, 'no refresh claimed these addresses; freed them');
  }, o.connectionLifetimeMs).unref();
}

/** p2p: each connection gets a pair of addresses; with NSM_MEMIF_SOCKET, memif clients get the application's socket. */
export function p2pElements(pool: PointToPointPool, memifIds: MemifIds, memifSocket?: string, netnsUrl = ownNetnsUrl()) {
  return [assignAddresses(pool), ...(memifSocket ? [memifAnswer(memifSocket, memifIds)] : []), kernelAnswer(netnsUrl)];
}

export const p2pMode: EndpointMode = {
  async start(o, config) {
    const pool = new PointToPointPool(config.NSM_CIDR_PREFIX);
    adoptAddresses(o, pool);
    const memifSocket = config.NSM_MEMIF_SOCKET || undefined;
    const memifIds = new MemifIds();
    const labels: Record<string, string> = memifSocket ? { [MEMIF_ENDPOINT_LABEL]: 'true' } : {};
    return {
      elements: p2pElements(pool, memifIds, memifSocket),
      held: () => ({ addresses: pool.connections, unclaimedAddresses: pool.unclaimed, memifIds: memifIds.size }),
      labels,
      describe: { pool: pool.cidr, memif: memifSocket },
      metrics: (registry) => poolMetrics(registry, pool),
    };
  },
};
