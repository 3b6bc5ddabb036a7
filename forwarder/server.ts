import { chain } from '../sdk/chain/chain.ts';
import type { Element } from '../sdk/chain/types.ts';
import { monitor, type Monitor } from '../sdk/elements/monitor.ts';
import { ChannelPool } from '../sdk/grpc/channel-pool.ts';
import { networkServiceBinding } from '../sdk/grpc/networkservice-server.ts';
import { startGrpcServer, type RunningGrpcServer } from '../sdk/grpc/server.ts';
import type { Logger } from '../sdk/log.ts';
import { startMetricsServer } from '../sdk/telemetry/metrics-server.ts';
import { registryBindings } from '../sdk/registry/server.ts';
import type { RegistryBackend } from '../sdk/registry/types.ts';
import { monitorScope } from './authz/monitor-scope.ts';
import { Owners } from './authz/ownership.ts';
import { Registrations } from './authz/registrations.ts';
import { forwarderElements } from './chain.ts';
import { ForwarderMetrics } from './metrics.ts';
import { AdoptionTable } from './dataplane/adoption.ts';
import type { PoolConfig } from './device-pools/config.ts';
import { DevicePools } from './device-pools/device-pools.ts';
import { DEFAULT_MEMIF_DIR, MemifRendezvous } from './dataplane/memif-rendezvous.ts';
import { NetnsResolver } from './dataplane/netns-resolver.ts';
import { Healer } from './heal/healer.ts';
import type { KernelRunner } from './dataplane/runner.ts';
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
  /** Serve Prometheus metrics here (NSM_METRICS_LISTEN_ON); unset = none. */
  metricsListenOn?: string;
  /** Host device pools handed out through the kubelet's device-plugin API (forwarder/device-pools/). */
  devicePools?: DevicePoolSettings;
}

export interface DevicePoolSettings {
  pools: readonly PoolConfig[];
  /** The NSM_DEVICE_POOLS file, for messages. */
  source: string;
  pluginDir: string;
  podResourcesDir: string;
  pollMs: number;
}

export interface Forwarder {
  readonly server: RunningGrpcServer;
  readonly elements: readonly Element[];
  readonly adoption: AdoptionTable;
  readonly peering?: Peering;
  readonly monitor: Monitor;
  readonly healer: Healer;
  readonly owners: Owners;
  readonly metrics?: { readonly port: number; readonly values: ForwarderMetrics };
  readonly devicePools?: DevicePools;
  stop(): Promise<void>;
}

/**
 * The node's device pools, when the forwarder has any: their endpoints go into `registry`, and
 * their names are kept from callers. A start that fails stops the peer server already listening.
 */
async function startDevicePools(o: ForwarderOptions, resolver: NetnsResolver, registry: RegistryBackend, registrations: Registrations, peering?: Peering): Promise<DevicePools | undefined> {
  if (!o.devicePools || o.devicePools.pools.length === 0) return undefined;
  try {
    const pools = await DevicePools.start({
      ...o.devicePools, connectionLifetimeMs: o.connectionLifetimeMs, registrationLifetimeMs: o.registrationLifetimeMs,
      forwarder: o.name, url: o.listenOn, runner: o.runner, resolver, registry, log: o.log,
    });
    for (const name of pools.endpointNames) registrations.reserve(name);
    return pools;
  } catch (err) {
    await peering?.stop();
    throw err;
  }
}

/**
 * The forwarder's timers: the registry sweep (none while the registry cannot be reached, nor for
 * one registration lifetime after: endpoints could not refresh meanwhile), and the end of what a
 * previous forwarder left that no client claimed within a connection lifetime (as the timeout
 * element enforces: clients that were backing off while no forwarder ran get that long to come
 * back and claim theirs, kernel interfaces and memif sockets alike). Returns their stop.
 */
function housekeeping(o: ForwarderOptions, backend: RegistryBackend, sweepRegistry: () => Promise<number>, adoption: AdoptionTable, rendezvous: MemifRendezvous, memifLeftovers: number): () => void {
  let registryProblemAt = -Infinity;
  const sweep = () => {
    if (backend.problem?.()) registryProblemAt = Date.now();
    if (Date.now() - registryProblemAt < o.registrationLifetimeMs) return;
    void sweepRegistry().catch((err: unknown) => o.log.warn({ err }, 'registry sweep failed'));
  };
  const sweeper = setInterval(sweep, Math.min(5000, o.registrationLifetimeMs / 4));
  sweeper.unref();
  const adoptTimer = setTimeout(() => void adoption.expire(), adoption.size > 0 ? o.connectionLifetimeMs : 0);
  adoptTimer.unref();
  const memifTimer = memifLeftovers > 0 ? setTimeout(() => void rendezvous.expire().catch((err: unknown) => o.log.warn({ err }, 'removing unclaimed memif links failed')), o.connectionLifetimeMs) : undefined;
  memifTimer?.unref();
  return () => {
    clearInterval(sweeper);
    clearTimeout(adoptTimer);
    clearTimeout(memifTimer);
  };
}

export async function startForwarder(options: ForwarderOptions): Promise<Forwarder> {
  // The metrics read the monitor's connections when scraped; the runner they time is needed first.
  const late: { monitor?: Monitor } = {};
  const values = options.metricsListenOn ? new ForwarderMetrics(options.name, { connections: () => late.monitor?.connections.values() ?? [], registry: options.registry }) : undefined;
  const o = values ? { ...options, runner: values.timed(options.runner) } : options;
  const resolver = new NetnsResolver();
  const adoption = new AdoptionTable(o.runner, resolver, o.log, o.name);
  if (o.adopt ?? true) await adoption.scan();
  const pool = new ChannelPool(o.dialTimeoutMs);
  const owners = new Owners(adoption);
  const mon = monitor({ visible: monitorScope(owners) });
  late.monitor = mon;
  const rendezvous = new MemifRendezvous(o.memifDir ?? DEFAULT_MEMIF_DIR);
  const memifLeftovers = await rendezvous.scan();
  const registrations = new Registrations(o.name);
  const peering = o.peering && await startPeering(o.peering, { ...o, observe: values?.observe, monitor: mon.binding });
  const backend = peering?.registry ?? o.registry;
  const devicePools = await startDevicePools(o, resolver, backend, registrations, peering);
  const healer = new Healer({
    name: o.name, monitor: mon, resolver, identities: registrations, registry: backend, locality: peering && ((nse) => peering.registry.locality(nse)),
    localPool: pool, peerPool: peering?.peers, log: o.log, heals: values?.heals,
  });
  await healer.start();
  const elements = forwarderElements({
    ...o, registry: backend, resolver, adoption, rendezvous, endpoints: registrations, owners, monitor: mon, healer, local: pool, peering, devicePools,
  });
  const served = chain(elements);
  peering?.serve(served);
  const registry = registryBindings(backend, o.log, { expirationMs: o.registrationLifetimeMs, guard: registrations });
  const server = await startGrpcServer({
    listenOn: o.listenOn,
    services: [networkServiceBinding(served, o.log, values?.observe), mon.binding, ...registry.bindings],
  });
  const stopHousekeeping = housekeeping(o, backend, registry.sweep, adoption, rendezvous, memifLeftovers);
  const metricsServer = values && o.metricsListenOn ? await startMetricsServer(o.metricsListenOn, values.registry) : undefined;
  return {
    server,
    elements,
    adoption,
    peering,
    monitor: mon,
    healer,
    owners,
    metrics: values && metricsServer && { port: metricsServer.port, values },
    devicePools,
    stop: async () => {
      await metricsServer?.stop();
      await healer.stop();
      mon.endStreams();
      stopHousekeeping();
      await devicePools?.stop();
      await peering?.stop();
      await server.stop(2000);
      pool.closeAll();
    },
  };
}
