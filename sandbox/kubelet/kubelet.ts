import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DevicePluginDefinition, RegistrationDefinition, type Empty, type RegisterRequest } from '../../proto/gen/deviceplugin/v1beta1/api.ts';
import { PodResourcesListerDefinition, type ListPodResourcesRequest, type ListPodResourcesResponse } from '../../proto/gen/podresources/v1/api.ts';
import { KeyedSerializer } from '../../sdk/chain/serialize.ts';
import { NsmError } from '../../sdk/errors.ts';
import { unary } from '../../sdk/grpc/client.ts';
import { unaryHandler } from '../../sdk/grpc/networkservice-server.ts';
import { startGrpcServer, type RunningGrpcServer } from '../../sdk/grpc/server.ts';
import type { Logger } from '../../sdk/log.ts';
import { PluginTable, type Plugin } from './plugins.ts';

export const KUBELET_SOCKET = 'kubelet.sock';
export const CHECKPOINT = 'kubelet_internal_checkpoint';
const PRE_START_TIMEOUT_MS = 30_000;

/** The devices one container of a pod holds, as the kubelet's device manager records them. */
export interface Allocation {
  pod: string;
  namespace: string;
  container: string;
  resource: string;
  ids: string[];
}

export interface KubeletOptions {
  /** The device plugin directory (kubelet.sock, the plugins' sockets). */
  pluginDir: string;
  /** Where the PodResources socket goes; none = no PodResources API. */
  podResourcesDir?: string;
  log: Logger;
}

/**
 * The kubelet as device plugins and their users see it, speaking the real v1beta1 and
 * PodResources v1 APIs over unix sockets: it serves Registration on kubelet.sock (after
 * emptying the directory of everything but its checkpoint, as the kubelet does at start), keeps
 * each plugin's ListAndWatch stream, admits containers (picks healthy unallocated devices, asks
 * GetPreferredAllocation when the plugin wants and there is a choice, calls Allocate once with
 * one container request and PreStartContainer when required) and lists what pods hold. A pod's
 * end is no RPC: the allocation is just forgotten. The sandbox runs one per node; the tests use
 * it as their stand-in kubelet.
 */
export class Kubelet {
  readonly plugins: PluginTable;
  readonly #o: KubeletOptions;
  #allocations: Allocation[] = [];
  #servers: RunningGrpcServer[] = [];
  /** Admissions run one at a time, as the device manager's lock makes them. */
  readonly #admitting = new KeyedSerializer();

  constructor(o: KubeletOptions) {
    this.#o = o;
    this.plugins = new PluginTable(o.pluginDir, o.log);
  }

  get socket(): string {
    return join(this.#o.pluginDir, KUBELET_SOCKET);
  }

  get allocations(): readonly Allocation[] {
    return this.#allocations;
  }

  async start(): Promise<void> {
    mkdirSync(this.#o.pluginDir, { recursive: true });
    for (const f of readdirSync(this.#o.pluginDir)) if (f !== CHECKPOINT) rmSync(join(this.#o.pluginDir, f), { recursive: true, force: true });
    const registration = {
      register: unaryHandler<RegisterRequest, Empty>(this.#o.log, 'Register', async (_ctx, req) => {
        await this.plugins.register(req);
        return {};
      }),
    };
    this.#servers.push(await startGrpcServer({ listenOn: `unix://${this.socket}`, services: [{ definition: RegistrationDefinition, implementation: registration }] }));
    if (this.#o.podResourcesDir) {
      const lister = { list: unaryHandler<ListPodResourcesRequest, ListPodResourcesResponse>(this.#o.log, 'List', async () => this.podResources()) };
      this.#servers.push(await startGrpcServer({ listenOn: `unix://${join(this.#o.podResourcesDir, KUBELET_SOCKET)}`, services: [{ definition: PodResourcesListerDefinition, implementation: lister }] }));
    }
  }

  async stop(): Promise<void> {
    this.plugins.clear();
    for (const s of this.#servers) await s.stop(500);
    this.#servers = [];
  }

  /** A kubelet restart: plugins' streams end, the directory is emptied, kubelet.sock is created anew; allocations survive (the checkpoint). */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** What PodResources List answers: every pod's containers with the devices they hold. */
  podResources(): ListPodResourcesResponse {
    const pods = new Map<string, Allocation[]>();
    for (const a of this.#allocations) pods.set(`${a.namespace}/${a.pod}`, [...(pods.get(`${a.namespace}/${a.pod}`) ?? []), a]);
    return {
      podResources: [...pods.values()].map((as) => ({
        name: as[0].pod,
        namespace: as[0].namespace,
        containers: [...new Set(as.map((a) => a.container))].map((c) => ({
          name: c,
          devices: as.filter((a) => a.container === c).map((a) => ({ resourceName: a.resource, deviceIds: a.ids })),
        })),
      })),
    };
  }

  /**
   * Admits one container asking for `count` of `resource`: the env the plugin's Allocate answers.
   * Refused like the kubelet refuses a pod (UnexpectedAdmissionError) when the resource has no
   * plugin or not enough healthy free devices.
   */
  admit(pod: { name: string; namespace: string }, container: string, resource: string, count: number): Promise<Record<string, string>> {
    return this.#admitting.run('admit', () => this.#admit(pod, container, resource, count));
  }

  async #admit(pod: { name: string; namespace: string }, container: string, resource: string, count: number): Promise<Record<string, string>> {
    const plugin = this.plugins.get(resource);
    if (!plugin) throw new NsmError('FAILED_PRECONDITION', `pod ${pod.name}: no device plugin serves ${resource} on this node`);
    const taken = new Set(this.#allocations.filter((a) => a.resource === resource).flatMap((a) => a.ids));
    const free = plugin.devices.filter((d) => d.health === 'Healthy' && !taken.has(d.ID)).map((d) => d.ID);
    if (free.length < count) {
      throw new NsmError('RESOURCE_EXHAUSTED', `pod ${pod.name}: UnexpectedAdmissionError: requested ${count} of ${resource}, ${free.length} healthy and free of ${plugin.devices.length}`);
    }
    const ids = await this.#choose(plugin, free, count);
    const answer = await unary(plugin.channel, DevicePluginDefinition, DevicePluginDefinition.methods.allocate, { containerRequests: [{ devicesIds: ids }] });
    this.#allocations.push({ pod: pod.name, namespace: pod.namespace, container, resource, ids });
    if (plugin.options.preStartRequired) {
      await unary(plugin.channel, DevicePluginDefinition, DevicePluginDefinition.methods.preStartContainer, { devicesIds: ids }, { timeoutMs: PRE_START_TIMEOUT_MS });
    }
    return answer.containerResponses[0]?.envs ?? {};
  }

  async #choose(plugin: Plugin, free: string[], count: number): Promise<string[]> {
    if (!plugin.options.getPreferredAllocationAvailable || free.length === count) return free.slice(0, count);
    const r = await unary(plugin.channel, DevicePluginDefinition, DevicePluginDefinition.methods.getPreferredAllocation, {
      containerRequests: [{ availableDeviceIDs: free, mustIncludeDeviceIDs: [], allocationSize: count }],
    });
    const preferred = (r.containerResponses[0]?.deviceIDs ?? []).filter((id) => free.includes(id));
    return [...new Set([...preferred, ...free])].slice(0, count);
  }

  /** A pod ended: its devices are free again. The plugin is not told (the kubelet has no such call). */
  forget(pod: { name: string; namespace: string }): void {
    this.#allocations = this.#allocations.filter((a) => a.pod !== pod.name || a.namespace !== pod.namespace);
  }
}
