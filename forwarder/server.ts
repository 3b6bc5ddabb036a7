import { begin } from '../sdk/chain/begin.ts';
import { chain } from '../sdk/chain/chain.ts';
import { metadata } from '../sdk/chain/metadata.ts';
import type { Element } from '../sdk/chain/types.ts';
import { monitor, type Monitor } from '../sdk/elements/monitor.ts';
import { timeout } from '../sdk/elements/timeout.ts';
import { updatePath } from '../sdk/elements/update-path.ts';
import { networkServiceBinding } from '../sdk/grpc/networkservice-server.ts';
import { startGrpcServer, type RunningGrpcServer } from '../sdk/grpc/server.ts';
import type { Logger } from '../sdk/log.ts';
import { registryBindings } from '../sdk/registry/server.ts';
import type { RegistryBackend } from '../sdk/registry/types.ts';
import { connectionOwner, Owners, releaseOwner } from './authz/ownership.ts';
import { endpointAnswer } from './authz/endpoint-answer.ts';
import { monitorScope } from './authz/monitor-scope.ts';
import { ownNamespaceOnly } from './authz/own-namespace.ts';
import { Registrations } from './authz/registrations.ts';
import { AdoptionTable } from './dataplane/adoption.ts';
import { DEFAULT_MEMIF_DIR, MemifRendezvous } from './dataplane/memif-rendezvous.ts';
import { NetnsResolver } from './dataplane/netns-resolver.ts';
import type { KernelRunner } from './dataplane/runner.ts';
import { clientNetns } from './elements/client-netns.ts';
import { clientOffers } from './elements/client-offers.ts';
import { callEndpoint, ChannelPool } from './elements/call-endpoint.ts';
import { discover } from './elements/discover.ts';
import { kernelVeth } from './elements/kernel-veth.ts';
import { memifShortcut } from './elements/memif-shortcut.ts';
import { FORWARDER_SUPPORTS, negotiateMechanism } from './elements/negotiate.ts';
import { roundRobin } from './elements/roundrobin.ts';
import { heal } from './heal/element.ts';
import { Healer } from './heal/healer.ts';
import { liveEndpoints } from './heal/live-endpoints.ts';
import { startPeering, type Peering, type PeeringOptions } from './remote/peering.ts';

export interface ForwarderOptions {
  name: string;
  listenOn: string;
  registry: RegistryBackend;
  runner: KernelRunner;
  log: Logger;
  /** How long a connection lives without a refresh. */
  connectionLifetimeMs: number;
  /** Longest endpoint registration before it must be refreshed. */
  registrationLifetimeMs: number;
  dialTimeoutMs: number;
  requestTimeoutMs: number;
  /** Look for connections of a previous forwarder at start (default true). */
  adopt?: boolean;
  /** Serve other forwarders and build tunnels to them; without it the forwarder is single-node. */
  peering?: PeeringOptions;
  /** Where clients are handed links to endpoints' memif sockets (default /var/lib/networkservicemesh/memif). */
  memifDir?: string;
}

export interface Forwarder {
  readonly server: RunningGrpcServer;
  readonly elements: readonly Element[];
  readonly adoption: AdoptionTable;
  readonly peering?: Peering;
  readonly monitor: Monitor;
  readonly healer: Healer;
  readonly owners: Owners;
  stop(): Promise<void>;
}

/** The canonical forwarder chain, in order. */
export function forwarderElements(
  o: ForwarderOptions, resolver: NetnsResolver, adoption: AdoptionTable, pool: ChannelPool, mon: Element,
  peering?: Peering, rendezvous = new MemifRendezvous(o.memifDir ?? DEFAULT_MEMIF_DIR),
  registrations = new Registrations(o.name), owners = new Owners(adoption), healer?: Healer,
): Element[] {
  return [
    updatePath(o.name),
    ownNamespaceOnly(),
    connectionOwner(owners),
    begin(),
    metadata(),
    releaseOwner(owners),
    timeout(o.connectionLifetimeMs),
    mon,
    ...(healer ? [heal(healer)] : []),
    clientOffers(),
    negotiateMechanism(peering ? [...FORWARDER_SUPPORTS, ...peering.supported] : undefined),
    clientNetns(resolver),
    discover(o.registry),
    ...(healer ? [liveEndpoints(healer)] : []),
    roundRobin(),
    memifShortcut(rendezvous, resolver),
    ...(peering ? [peering.switch] : []),
    kernelVeth(o.runner, resolver, adoption),
    endpointAnswer(registrations),
    callEndpoint(pool, o.registry, o.requestTimeoutMs),
  ];
}

export async function startForwarder(o: ForwarderOptions): Promise<Forwarder> {
  const resolver = new NetnsResolver();
  const adoption = new AdoptionTable(o.runner, resolver, o.log, o.name);
  if (o.adopt ?? true) await adoption.scan();
  const pool = new ChannelPool(o.dialTimeoutMs);
  const owners = new Owners(adoption);
  const mon = monitor({ visible: monitorScope(owners) });
  const rendezvous = new MemifRendezvous(o.memifDir ?? DEFAULT_MEMIF_DIR);
  const memifLeftovers = await rendezvous.scan();
  const registrations = new Registrations(o.name);
  const peering = o.peering && await startPeering(o.peering, { ...o, resolver, adoption, localPool: pool, endpoints: registrations, monitor: mon.binding });
  const backend = peering?.registry ?? o.registry;
  const healer = new Healer({
    name: o.name, monitor: mon, resolver, identities: registrations, registry: backend, locality: peering && ((nse) => peering.registry.locality(nse)),
    localPool: pool, peerPool: peering?.pool, log: o.log,
  });
  await healer.start();
  const elements = forwarderElements({ ...o, registry: backend }, resolver, adoption, pool, mon, peering, rendezvous, registrations, owners, healer);
  const served = chain(elements);
  peering?.serve(served);
  const registry = registryBindings(backend, o.log, { expirationMs: o.registrationLifetimeMs, guard: registrations });
  const server = await startGrpcServer({
    listenOn: o.listenOn,
    services: [networkServiceBinding(served, o.log), mon.binding, ...registry.bindings],
  });
  // While the registry cannot be reached, and for one registration lifetime after, endpoints
  // could not refresh their registrations: none is removed as expired meanwhile.
  let registryProblemAt = -Infinity;
  const sweep = () => {
    if (backend.problem?.()) registryProblemAt = Date.now();
    if (Date.now() - registryProblemAt < o.registrationLifetimeMs) return;
    void registry.sweep().catch((err: unknown) => o.log.warn({ err }, 'registry sweep failed'));
  };
  const sweeper = setInterval(sweep, Math.min(5000, o.registrationLifetimeMs / 4));
  sweeper.unref();
  // A connection lives one lifetime without a refresh (as the timeout element enforces); clients
  // that were backing off while no forwarder ran get that long to come back and claim theirs,
  // kernel interfaces and memif sockets alike.
  const adoptTimer = setTimeout(() => void adoption.expire(), adoption.size > 0 ? o.connectionLifetimeMs : 0);
  adoptTimer.unref();
  const memifTimer = memifLeftovers > 0 ? setTimeout(() => void rendezvous.expire().catch((err: unknown) => o.log.warn({ err }, 'removing unclaimed memif links failed')), o.connectionLifetimeMs) : undefined;
  memifTimer?.unref();
  return {
    server,
    elements,
    adoption,
    peering,
    monitor: mon,
    healer,
    owners,
    stop: async () => {
      await healer.stop();
      mon.endStreams();
      clearInterval(sweeper);
      clearTimeout(adoptTimer);
      clearTimeout(memifTimer);
      await peering?.stop();
      await server.stop(2000);
      pool.closeAll();
    },
  };
}
