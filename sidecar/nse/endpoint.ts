import { begin } from '../../sdk/chain/begin.ts';
import { chain } from '../../sdk/chain/chain.ts';
import { metadata } from '../../sdk/chain/metadata.ts';
import type { Element } from '../../sdk/chain/types.ts';
import { timeout } from '../../sdk/elements/timeout.ts';
import { updatePath } from '../../sdk/elements/update-path.ts';
import { networkServiceBinding } from '../../sdk/grpc/networkservice-server.ts';
import { startGrpcServer, type RunningGrpcServer } from '../../sdk/grpc/server.ts';
import { ownNetnsUrl } from '../../sdk/netns.ts';
import { assignAddresses } from './elements/assign-addresses.ts';
import { kernelAnswer } from './elements/kernel-answer.ts';
import { memifAnswer } from './elements/memif-answer.ts';
import { MemifIds } from './memif-ids.ts';
import { PointToPointPool } from './point-to-point-pool.ts';
import type { EndpointOptions } from './options.ts';
import { EndpointRegistration } from './registration.ts';

export interface Endpoint {
  readonly pool: PointToPointPool;
  readonly server: RunningGrpcServer;
  stop(): Promise<void>;
}

export function endpointElements(o: EndpointOptions, pool: PointToPointPool, memifIds = new MemifIds()): Element[] {
  const memif = o.memifSocket ? [memifAnswer(o.memifSocket, memifIds)] : [];
  return [updatePath(o.name), begin(), metadata(), timeout(o.connectionLifetimeMs), assignAddresses(pool), ...memif, kernelAnswer(ownNetnsUrl())];
}

export async function startEndpoint(o: EndpointOptions): Promise<Endpoint & { registered: Promise<void> }> {
  const pool = new PointToPointPool(o.cidr);
  const server = await startGrpcServer({ listenOn: o.listenOn, services: [networkServiceBinding(chain(endpointElements(o, pool)), o.log)], socketMode: 0o666 });
  const registration = new EndpointRegistration(o).start();
  return {
    pool,
    server,
    registered: registration.ready,
    stop: async () => {
      await registration.stop();
      await server.stop(2000);
    },
  };
}
