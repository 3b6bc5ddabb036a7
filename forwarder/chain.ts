import { begin } from '../sdk/chain/begin.ts';
import { metadata } from '../sdk/chain/metadata.ts';
import type { Element } from '../sdk/chain/types.ts';
import { timeout } from '../sdk/elements/timeout.ts';
import { updatePath } from '../sdk/elements/update-path.ts';
import type { ChannelPool } from '../sdk/grpc/channel-pool.ts';
import type { RegistryBackend } from '../sdk/registry/types.ts';
import { endpointAnswer, type EndpointIdentities } from './authz/endpoint-answer.ts';
import { connectionOwner, releaseOwner, type Owners } from './authz/ownership.ts';
import { ownNamespaceOnly } from './authz/own-namespace.ts';
import type { AdoptionTable } from './dataplane/adoption.ts';
import type { MemifRendezvous } from './dataplane/memif-rendezvous.ts';
import type { NetnsResolver } from './dataplane/netns-resolver.ts';
import type { KernelRunner } from './dataplane/runner.ts';
import { callEndpoint } from './elements/call-endpoint.ts';
import { clientNetns } from './elements/client-netns.ts';
import { clientOffers } from './elements/client-offers.ts';
import { discover } from './elements/discover.ts';
import { kernelVeth } from './elements/kernel-veth.ts';
import { memifShortcut } from './elements/memif-shortcut.ts';
import { FORWARDER_SUPPORTS, negotiateMechanism } from './elements/negotiate.ts';
import { relayDeviceTunnel } from './elements/relay-device-tunnel.ts';
import { remoteSwitch } from './elements/remote-switch.ts';
import { roundRobin } from './elements/roundrobin.ts';
import { tunnelClient } from './elements/tunnel-client.ts';
import { tunnelEndpoint } from './elements/tunnel-endpoint.ts';
import { heal } from './heal/element.ts';
import type { Healer } from './heal/healer.ts';
import { liveEndpoints } from './heal/live-endpoints.ts';
import { meshNodes } from './remote/mesh-nodes.ts';
import type { Peering } from './remote/peering.ts';

/** Everything the forwarder's chain is built from. */
export interface ChainParts {
  name: string;
  registry: RegistryBackend;
  runner: KernelRunner;
  resolver: NetnsResolver;
  adoption: AdoptionTable;
  rendezvous: MemifRendezvous;
  endpoints: EndpointIdentities;
  owners: Owners;
  monitor: Element;
  /** Watches the far side of every connection and heals (see forwarder/heal/). */
  healer?: Healer;
  /** Channels to this node's endpoints. */
  local: ChannelPool;
  connectionLifetimeMs: number;
  requestTimeoutMs: number;
  peering?: Peering;
  /** This node's device pools: their candidates filter goes after discover, their endpoint after roundrobin. */
  devicePools?: { candidates: Element; endpoint: Element };
}

/**
 * The switch to the tunnel routes: towards a peer forwarder, from one to a local endpoint, and to
 * or for a local endpoint that stands for an external device (the tunnel then runs from the
 * client's node to the device).
 */
function tunnelSwitch(p: ChainParts, peering: Peering): Element {
  const deps = { runner: p.runner, resolver: p.resolver, tunnels: peering.tunnels, vnis: peering.vnis, adoption: p.adoption };
  const client = tunnelClient(deps);
  const answer = endpointAnswer(p.endpoints, () => ({ meshNodes: meshNodes(peering.registry, peering.tunnels.underlay.ip), deviceCidrs: peering.deviceCidrs }));
  const local = callEndpoint(p.local, peering.registry, p.requestTimeoutMs);
  return remoteSwitch(peering.registry, {
    client: [client, callEndpoint(peering.peers, peering.registry, p.requestTimeoutMs)],
    endpoint: [tunnelEndpoint(deps), answer, local],
    device: [client, answer, local],
    relay: [relayDeviceTunnel(), answer, local],
  });
}

/**
 * The forwarder's chain, in order, assembled in this one place. Each element declares what it
 * needs before it and what it provides; `chain()` checks the order when it is built.
 */
export function forwarderElements(p: ChainParts): Element[] {
  return [
    updatePath(p.name),
    ownNamespaceOnly(),
    connectionOwner(p.owners),
    begin(),
    metadata(),
    releaseOwner(p.owners),
    timeout(p.connectionLifetimeMs),
    p.monitor,
    ...(p.healer ? [heal(p.healer)] : []),
    clientOffers(),
    negotiateMechanism(p.peering ? [...FORWARDER_SUPPORTS, ...p.peering.supported] : undefined),
    clientNetns(p.resolver),
    discover(p.registry),
    ...(p.healer ? [liveEndpoints(p.healer)] : []),
    ...(p.devicePools ? [p.devicePools.candidates] : []),
    roundRobin(),
    ...(p.devicePools ? [p.devicePools.endpoint] : []),
    memifShortcut(p.rendezvous, p.resolver),
    ...(p.peering ? [tunnelSwitch(p, p.peering)] : []),
    kernelVeth(p.runner, p.resolver, p.adoption),
    endpointAnswer(p.endpoints),
    callEndpoint(p.local, p.registry, p.requestTimeoutMs),
  ];
}
