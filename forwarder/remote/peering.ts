import { credentials, ServerCredentials } from '@grpc/grpc-js';
import { isIP } from 'node:net';
import type { Element, NetworkServiceServer } from '../../sdk/chain/types.ts';
import { NsmError } from '../../sdk/errors.ts';
import type { ChannelSecurity } from '../../sdk/grpc/client.ts';
import { networkServiceBinding } from '../../sdk/grpc/networkservice-server.ts';
import { startGrpcServer, type RunningGrpcServer, type ServiceBinding } from '../../sdk/grpc/server.ts';
import { mutualTlsDialOptions, mutualTlsServerCredentials, type MutualTlsFiles } from '../../sdk/grpc/tls.ts';
import type { Logger } from '../../sdk/log.ts';
import type { Supported } from '../../sdk/negotiate.ts';
import type { RegistryBackend } from '../../sdk/registry/types.ts';
import { endpointAnswer, type EndpointIdentities } from '../authz/endpoint-answer.ts';
import type { AdoptionTable } from '../dataplane/adoption.ts';
import type { NetnsLookup } from '../dataplane/netns-resolver.ts';
import type { KernelRunner } from '../dataplane/runner.ts';
import { callEndpoint, ChannelPool } from '../elements/call-endpoint.ts';
import { remoteSwitch } from '../elements/remote-switch.ts';
import { tunnelClient } from '../elements/tunnel-client.ts';
import { tunnelEndpoint } from '../elements/tunnel-endpoint.ts';
import { localBypass, type LocalBypassRegistry } from './local-bypass.ts';
import { supportedTunnels, type Tunnels } from './tunnels.ts';
import { VniAllocator } from './vni.ts';

export interface PeeringOptions {
  /** Where other forwarders reach this one (NSM_PEER_LISTEN_ON). */
  listenOn: string;
  /** Mutual TLS for both directions; undefined means plaintext (NSM_INSECURE=true). */
  tls?: MutualTlsFiles;
  tunnels: Tunnels;
}

export interface Peering {
  readonly server: RunningGrpcServer;
  /** The URL published for this node's endpoints. */
  readonly url: string;
  readonly registry: LocalBypassRegistry;
  readonly supported: Supported[];
  readonly switch: Element;
  /** The channels to peer forwarders, one per peer URL. */
  readonly pool: ChannelPool;
  /** The VNIs (and GRE keys) in use on this node. */
  readonly vnis: VniAllocator;
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
  runner: KernelRunner;
  resolver: NetnsLookup;
  adoption: AdoptionTable;
  localPool: ChannelPool;
  /** Who serves each endpoint of this node, so their answers can be checked. */
  endpoints: EndpointIdentities;
  dialTimeoutMs: number;
  requestTimeoutMs: number;
  log: Logger;
  /** MonitorConnections, served to peers too (they relay what happens to their connections here). */
  monitor?: ServiceBinding;
}

/**
 * Listens for peer forwarders (mutual TLS unless told otherwise), and builds the pieces the chain
 * needs for tunnels: the registry view that publishes the peer URL, and the switch with the
 * client-side and endpoint-side elements. The server starts first because the URL carries its port.
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
    services: [networkServiceBinding(delegate, d.log), ...(d.monitor ? [d.monitor] : [])],
    credentials: o.tls ? mutualTlsServerCredentials(o.tls) : ServerCredentials.createInsecure(),
  });
  const url = peerUrlOf(o.tunnels.underlay.ip, server.address.kind === 'tcp' ? server.address.port : 0);
  const registry = localBypass(d.registry, url);
  const peerPool = new ChannelPool(d.dialTimeoutMs, peerDialOptions(o.tls));
  const vnis = new VniAllocator();
  const deps = { runner: d.runner, resolver: d.resolver, tunnels: o.tunnels, vnis, adoption: d.adoption };
  const sw = remoteSwitch(registry,
    [tunnelClient(deps), callEndpoint(peerPool, registry, d.requestTimeoutMs)],
    [tunnelEndpoint(deps), endpointAnswer(d.endpoints), callEndpoint(d.localPool, registry, d.requestTimeoutMs)]);
  return {
    server,
    url,
    registry,
    supported: supportedTunnels(o.tunnels),
    switch: sw,
    pool: peerPool,
    vnis,
    serve: (chain) => void (served = chain),
    stop: async () => {
      await server.stop(2000);
      peerPool.closeAll();
    },
  };
}
