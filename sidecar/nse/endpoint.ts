import { begin } from '../../sdk/chain/begin.ts';
import { chain } from '../../sdk/chain/chain.ts';
import { metadata } from '../../sdk/chain/metadata.ts';
import type { Element } from '../../sdk/chain/types.ts';
import { timeout } from '../../sdk/elements/timeout.ts';
import { updatePath } from '../../sdk/elements/update-path.ts';
import { networkServiceBinding } from '../../sdk/grpc/networkservice-server.ts';
import { startGrpcServer, type RunningGrpcServer } from '../../sdk/grpc/server.ts';
import { ownNetnsUrl } from '../../sdk/netns.ts';
import { ipamElement } from './elements/ipam.ts';
import { kernelAnswer } from './elements/kernel-answer.ts';
import { memifAnswer } from './elements/memif-answer.ts';
import { MemifIds } from './memif-ids.ts';
import { PointToPointIpam } from './ipam.ts';
import type { EndpointOptions } from './options.ts';
import { EndpointRegistration } from './registration.ts';

export interface Endpoint {
  readonly ipam: PointToPointIpam;
  readonly server: RunningGrpcServer;
  stop(): Promise<void>;
}

export function endpointElements(o: EndpointOptions, ipam: PointToPointIpam, memifIds = new MemifIds()): Element[] {
  const memif = o.memifSocket ? [memifAnswer(o.memifSocket, memifIds)] : [];
  return [updatePath(o.name), begin(), metadata(), timeout(o.connectionLifetimeMs), ipamElement(ipam), ...memif, kernelAnswer(ownNetnsUrl())];
}

export async function startEndpoint(o: EndpointOptions): Promise<Endpoint & { registered: Promise<void> }> {
  const ipam = new PointToPointIpam(o.cidr);
  const server = await startGrpcServer({ listenOn: o.listenOn, services: [networkServiceBinding(chain(endpointElements(o, ipam)), o.log)], socketMode: 0o666 });
  const registration = new EndpointRegistration(o).start();
  return {
    ipam,
    server,
    registered: registration.ready,
    stop: async () => {
      await registration.stop();
      await server.stop(2000);
    },
  };
}
