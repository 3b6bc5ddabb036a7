import type { Element } from '../../sdk/chain/types.ts';
import { NsmError } from '../../sdk/errors.ts';
import type { Logger } from '../../sdk/log.ts';
import type { RegistryBackend } from '../../sdk/registry/types.ts';
import type { NetnsResolver } from '../dataplane/netns-resolver.ts';
import type { KernelRunner } from '../dataplane/runner.ts';
import { poolCandidates } from './candidates.ts';
import type { PoolConfig } from './config.ts';
import { KubeletRegistration } from './kubelet.ts';
import { Lending, type LendRequest } from './lending.ts';
import { checkMembers, discoverMembers, type MemberScan } from './members.ts';
import { PodResourcesWatch } from './pod-resources.ts';
import { poolEndpoint, type PoolLending } from './pool-endpoint.ts';
import { DevicePool, type Lease } from './pool.ts';
import { poolEndpointName, PoolRegistrations } from './registration.ts';

export interface DevicePoolsOptions {
  pools: readonly PoolConfig[];
  /** The NSM_DEVICE_POOLS file, for messages. */
  source: string;
  /** NSM_DEVICE_PLUGIN_PATH */
  pluginDir: string;
  /** NSM_POD_RESOURCES_PATH */
  podResourcesDir: string;
  /** How often devices, PodResources and the kubelet's sockets are looked at (NSM_RESOURCE_POLL_TIMEOUT). */
  pollMs: number;
  /** Devices an earlier forwarder lent wait this long for their clients before they are taken back. */
  connectionLifetimeMs: number;
  registrationLifetimeMs: number;
  /** The forwarder's name and socket: the pools' endpoints are served there. */
  forwarder: string;
  url: string;
  runner: KernelRunner;
  resolver: NetnsResolver;
  registry: RegistryBackend;
  log: Logger;
}

/**
 * The device pools of this node (forwarder/device-pools/): each pool is a kubelet device plugin
 * whose device ids are tokens, and an endpoint of its network service that the forwarder serves
 * itself by lending the device of the client's token. `elements` go into the forwarder's chain:
 * `candidates` after discover, `endpoint` after roundrobin.
 */
export class DevicePools implements PoolLending {
  readonly pools: readonly DevicePool[];
  readonly candidates: Element;
  readonly endpoint: Element;
  readonly kubelet: KubeletRegistration;
  readonly #o: DevicePoolsOptions;
  readonly #lending: Lending;
  readonly #scan: MemberScan;
  readonly #podResources: PodResourcesWatch;
  readonly #registrations: PoolRegistrations;
  #poll?: NodeJS.Timeout;
  #strays?: NodeJS.Timeout;

  private constructor(o: DevicePoolsOptions, pools: DevicePool[]) {
    this.#o = o;
    this.pools = pools;
    this.#lending = new Lending(o.runner, o.log);
    this.#scan = { runner: o.runner, owner: o.forwarder, log: o.log };
    this.kubelet = new KubeletRegistration(pools, { dir: o.pluginDir, checkEveryMs: o.pollMs, log: o.log });
    this.#podResources = new PodResourcesWatch({ dir: o.podResourcesDir, log: o.log, free: (pool, token) => this.#free(pool, token) });
    this.#registrations = new PoolRegistrations(pools, { registry: o.registry, forwarder: o.forwarder, url: o.url, lifetimeMs: o.registrationLifetimeMs, log: o.log });
    this.candidates = poolCandidates(this);
    this.endpoint = poolEndpoint(this, o.resolver);
  }

  /** Finds every device (a missing one stops the start, naming the pool and the field), registers with the kubelet and in the registry. */
  static async start(o: DevicePoolsOptions): Promise<DevicePools> {
    const scan = { runner: o.runner, owner: o.forwarder, log: o.log };
    const members = await discoverMembers(scan, o.resolver, o.pools, o.source);
    const pools = new DevicePools(o, o.pools.map((p, i) => new DevicePool(p, poolEndpointName(o.forwarder, p.resource), members[i])));
    await pools.#start();
    return pools;
  }

  async #start(): Promise<void> {
    await this.kubelet.start();
    await this.#registrations.start();
    this.#poll = setInterval(() => void this.poll(), this.#o.pollMs);
    this.#poll.unref();
    if (this.pools.some((p) => p.members.some((m) => m.place.kind === 'stray'))) {
      this.#strays = setTimeout(() => void this.#reclaimStrays(), this.#o.connectionLifetimeMs);
      this.#strays.unref();
    }
    this.#o.log.info({ pools: this.pools.map((p) => ({ resource: p.resource, service: p.config.service, devices: p.members.map((m) => m.device) })) }, 'device pools ready');
  }

  /** The endpoint names of the pools, which no one else may register. */
  get endpointNames(): string[] {
    return this.pools.map((p) => p.endpointName);
  }

  byEndpoint(name: string): DevicePool | undefined {
    return this.pools.find((p) => p.endpointName === name);
  }

  ofToken(token: string): DevicePool | undefined {
    return this.pools.find((p) => p.member(token));
  }

  async lend(pool: DevicePool, token: string, r: LendRequest): Promise<Lease> {
    const member = pool.member(token);
    if (!member) throw new NsmError('FAILED_PRECONDITION', `token ${token} is not one of device pool ${pool.resource}`);
    return this.#lending.lend(pool, member, r);
  }

  giveBack(pool: DevicePool, lease: Lease): Promise<void> {
    return this.#lending.giveBack(pool, lease);
  }

  /** Looks at the devices and at which tokens pods hold; runs every `pollMs`. */
  async poll(): Promise<void> {
    try {
      await this.#lending.exclusive(() => checkMembers(this.#scan, this.pools));
      await this.#podResources.poll(this.pools);
    } catch (err) {
      this.#o.log.warn({ err }, 'looking at the device pools failed');
    }
  }

  /** A lent device whose pod ended: its connection is closed through the chain (or the device taken back, when no connection claimed it). */
  async #free(pool: DevicePool, token: string): Promise<void> {
    const m = pool.member(token);
    if (m?.place.kind === 'lent') {
      const lease = m.place.lease;
      await (lease.close ? lease.close() : this.giveBack(pool, lease));
    } else if (m?.place.kind === 'stray') {
      await this.#lending.reclaimStray(pool, m);
    }
  }

  async #reclaimStrays(): Promise<void> {
    for (const p of this.pools) for (const m of p.members) await this.#lending.reclaimStray(p, m).catch((err: unknown) => this.#o.log.warn({ device: m.device, err }, 'taking back a device an earlier forwarder lent failed'));
  }

  /** Stops talking to the kubelet and unregisters; lent devices stay where they are, for the next forwarder. */
  async stop(): Promise<void> {
    clearInterval(this.#poll);
    clearTimeout(this.#strays);
    await this.kubelet.stop();
    await this.#registrations.stop();
  }
}
