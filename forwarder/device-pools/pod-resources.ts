import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PodResourcesListerDefinition, type ListPodResourcesResponse } from '../../proto/gen/podresources/v1/api.ts';
import { toNsmError } from '../../sdk/errors.ts';
import { dial, unary } from '../../sdk/grpc/client.ts';
import type { Logger } from '../../sdk/log.ts';
import type { DevicePool } from './pool.ts';

export const POD_RESOURCES_SOCKET = 'kubelet.sock';

/** Polls in a row a lent device must be missing from every pod before it is taken back (a pod admitted between two polls is not yet listed). */
export const ABSENT_POLLS = 2;

/** Every device id each resource's pods hold, as the kubelet lists them. */
export function heldIds(list: ListPodResourcesResponse): Map<string, Set<string>> {
  const held = new Map<string, Set<string>>();
  for (const pod of list.podResources) {
    for (const c of pod.containers) {
      for (const d of c.devices) {
        const ids = held.get(d.resourceName) ?? new Set<string>();
        for (const id of d.deviceIds) ids.add(id);
        held.set(d.resourceName, ids);
      }
    }
  }
  return held;
}

export interface PodResourcesOptions {
  /** NSM_POD_RESOURCES_PATH */
  dir: string;
  log: Logger;
  /** Frees a lent (or stray) member whose pod is gone. */
  free(pool: DevicePool, token: string): Promise<void>;
}

/**
 * Upstream's garbage collection: the kubelet never tells a plugin that a pod ended, so the pools
 * ask the PodResources API which tokens pods hold; a lent device whose token no pod has held for
 * ABSENT_POLLS polls in a row belonged to a pod that ended without a Close, and is taken back.
 * Without the socket this logs once and relies on Close and expiry.
 */
export class PodResourcesWatch {
  readonly #o: PodResourcesOptions;
  readonly #absent = new Map<string, number>();
  #unavailable = false;

  constructor(o: PodResourcesOptions) {
    this.#o = o;
  }

  get socket(): string {
    return join(this.#o.dir, POD_RESOURCES_SOCKET);
  }

  async #list(): Promise<ListPodResourcesResponse | undefined> {
    try {
      if (!existsSync(this.socket)) throw new Error('no such socket');
      const channel = await dial(`unix://${this.socket}`, { dialTimeoutMs: 2000 });
      try {
        return await unary(channel, PodResourcesListerDefinition, PodResourcesListerDefinition.methods.list, {}, { timeoutMs: 5000 });
      } finally {
        channel.close();
      }
    } catch (err) {
      if (!this.#unavailable) {
        this.#o.log.warn({ socket: this.socket, err: toNsmError(err).message }, 'the kubelet\'s PodResources API cannot be reached: pool devices of pods that end without a Close come back only when their connections expire');
      }
      this.#unavailable = true;
      return undefined;
    }
  }

  /** One poll: counts, for each lent device, the polls its token was held by no pod, and frees those past the limit. */
  async poll(pools: readonly DevicePool[]): Promise<void> {
    const list = await this.#list();
    if (!list) return;
    if (this.#unavailable) this.#o.log.info({ socket: this.socket }, 'the kubelet\'s PodResources API answers again');
    this.#unavailable = false;
    const held = heldIds(list);
    const lent = new Set<string>();
    for (const pool of pools) {
      for (const m of pool.members) {
        if (m.place.kind !== 'lent' && m.place.kind !== 'stray') continue;
        lent.add(m.token);
        if (held.get(pool.resource)?.has(m.token)) {
          this.#absent.delete(m.token);
          continue;
        }
        const n = (this.#absent.get(m.token) ?? 0) + 1;
        this.#absent.set(m.token, n);
        if (n < ABSENT_POLLS) continue;
        this.#absent.delete(m.token);
        this.#o.log.info({ resource: pool.resource, device: m.device }, 'no pod holds this pool device\'s token any more (its pod ended without a Close); taking the device back');
        await this.#o.free(pool, m.token).catch((err: unknown) => this.#o.log.warn({ device: m.device, err }, 'taking back a device of an ended pod failed'));
      }
    }
    for (const token of [...this.#absent.keys()]) if (!lent.has(token)) this.#absent.delete(token);
  }
}
