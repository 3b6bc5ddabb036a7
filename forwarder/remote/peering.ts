import { credentials, ServerCredentials } from '@grpc/grpc-js';
import { isIP } from 'node:net';
import type { NetworkServiceServer } from '../../sdk/chain/types.ts';
import { NsmError } from '../../sdk/errors.ts';
import { networkServiceBinding, type CallObserver } from '../../sdk/grpc/networkservice-server.ts';
import type { Connection, NetworkServiceRequest } from '../../proto/api.ts';
import type { ChannelSecurity } from '../../sdk/grpc/client.ts';
import { startGrpcServer, type RunningGrpcServer, type ServiceBinding } from '../../sdk/grpc/server.ts';
import { mutualTlsDialOptions, mutualTlsServerCredentials, type MutualTlsFiles } from '../../sdk/grpc/tls.ts';
import type { Logger } from '../../sdk/log.ts';
import type { Supported } from '../../sdk/negotiate.ts';
import type { RegistryBackend } from '../../sdk/registry/types.ts';
import { ChannelPool } from '../../sdk/grpc/channel-pool.ts';
import { localBypass, type LocalBypassRegistry } from './local-bypass.ts';
import { supportedTunnels, type Tunnels } from '../tunnels/tunnels.ts';
import { VniAllocator } from '../tunnels/vni.ts';

export interface PeeringOptions {
  /** Where other forwarders reach this one (NSM_PEER_LISTEN_ON). */
  listenOn: string;
  /** Mutual TLS for both directions; undefined means plaintext (NSM_INSECURE=true). */
  tls?: MutualTlsFiles;
  tunnels: Tunnels;
  /** NSM_EXTERNAL_DEVICE_CIDRS: where endpoints may point clients' tunnels (empty: anywhere but the mesh's nodes). */
  deviceCidrs?: readonly string[];
}

export interface Peering {
  readonly server: RunningGrpcServer;
  /** The URL published for this node's endpoints. */
  readonly url: string;
  readonly registry: LocalBypassRegistry;
  readonly supported: Supported[];
  readonly tunnels: Tunnels;
  /** Where endpoints may point clients' tunnels (NSM_EXTERNAL_DEVICE_CIDRS; empty: anywhere but the mesh's nodes). */
  readonly deviceCidrs: readonly string[];
  /** VNIs (and GRE keys) of this node's tunnels. */
  readonly vnis: VniAllocator;
  /** Channels to other forwarders, over the peering's TLS. */
  readonly peers: ChannelPool;
  /** Makes the peer server answer with the forwarder's chain. */
  serve(chain: NetworkServiceServer): void;
  stop(): Promise<void>;
}

export function peerUrlOf(ip: string, port: number): string {
  return `tcp://${isIP(ip) === 6 ? `[${ip}]` : ip}:${port}`;
}

/**
 * Keepalive pings on peer channels, so that a node that vanished without closing its
 * connections (power loss, a cut cable) is noticed within seconds.
 */
const PEER_KEEPALIVE = { 'grpc.keepalive_time_ms': 1000, 'grpc.keepalive_timeout_ms': 1000, 'grpc.keepalive_permit_without_calls': 1 };

function peerDialOptions(tls?: MutualTlsFiles): ChannelSecurity {
  const security: ChannelSecurity = tls ? mutualTlsDialOptions(tls) : { credentials: credentials.createInsecure() };
  return { ...security, channelOptions: { ...security.channelOptions, ...PEER_KEEPALIVE } };
}

export interface PeeringDeps {
  registry: RegistryBackend;
  dialTimeoutMs: number;
  log: Logger;
  /** Told of every call peers make, for the forwarder's metrics. */
  observe?: CallObserver<NetworkServiceRequest | Connection>;
  /** MonitorConnections, served to peers too (they relay what happens to their connections here). */
  monitor?: ServiceBinding;
}

/**
 * Listens for peer forwarders (mutual TLS unless told otherwise) and holds what the chain needs to
 * reach them: the registry view that publishes the peer URL, the channels to peers and this node's
 * VNIs. The server starts first because the URL carries its port; it answers with the forwarder's
 * chain once `serve` is given it.
 */
export async function startPeering(o: PeeringOptions, d: PeeringDeps): Promise<Peering> {
  let served: NetworkServiceServer | undefined;
  const notReady = async (): Promise<never> => {
    throw new NsmError('UNAVAILABLE', 'the forwarder is still starting; try again');
  };
  const delegate: NetworkServiceServer = {
    request: (ctx, req) => (served ? served.request(ctx, req) : notReady()),
    close: (ctx, conn) => (served ? served.close(ctx, conn) : notReady()),
  };
  const server = await startGrpcServer({
    listenOn: o.listenOn,
    services: [networkServiceBinding(delegate, d.log, d.observe), ...(d.monitor ? [d.monitor] : [])],
    credentials: o.tls ? mutualTlsServerCredentials(o.tls) : ServerCredentials.createInsecure(),
  });
  const url = peerUrlOf(o.tunnels.underlay.ip, server.address.kind === 'tcp' ? server.address.port : 0);
  const registry = localBypass(d.registry, url);
  const peers = new ChannelPool(d.dialTimeoutMs, peerDialOptions(o.tls));
  return {
    server,
    url,
    registry,
    supported: supportedTunnels(o.tunnels),
    tunnels: o.tunnels,
    deviceCidrs: o.deviceCidrs ?? [],
    vnis: new VniAllocator(),
    peers,
    serve: (chain) => void (served = chain),
    stop: async () => {
      await server.stop(2000);
      peers.closeAll();
    },
  };
}
