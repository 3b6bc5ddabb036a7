import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { RegistrationDefinition } from '../../proto/gen/deviceplugin/v1beta1/api.ts';
import { toNsmError } from '../../sdk/errors.ts';
import { dial, unary } from '../../sdk/grpc/client.ts';
import { startGrpcServer, type RunningGrpcServer } from '../../sdk/grpc/server.ts';
import type { Logger } from '../../sdk/log.ts';
import { retry, Wakeup } from '../../sdk/retry.ts';
import { devicePluginBinding, PLUGIN_OPTIONS } from './plugin.ts';
import type { DevicePool } from './pool.ts';

export const KUBELET_SOCKET = 'kubelet.sock';
export const API_VERSION = 'v1beta1';
const CALL_TIMEOUT_MS = 15_000;

/** The plugin socket of a pool: a file name in the device plugin directory (`/` of the resource as `_`). */
export const pluginSocketName = (resource: string) => `nsm-${resource.replace('/', '_')}.sock`;

const inodeOf = async (path: string) => (await stat(path).catch(() => undefined))?.ino;

/** One pool's plugin server on its socket. */
class PluginEndpoint {
  readonly pool: DevicePool;
  readonly socket: string;
  readonly #log: Logger;
  #server?: RunningGrpcServer;
  #binding?: ReturnType<typeof devicePluginBinding>;
  #inode?: number;

  constructor(pool: DevicePool, dir: string, log: Logger) {
    this.pool = pool;
    this.socket = join(dir, pluginSocketName(pool.resource));
    this.#log = log;
  }

  /** Whether our socket is still the file at its path (a restarted kubelet deletes it). */
  async serving(): Promise<boolean> {
    return this.#server !== undefined && (await inodeOf(this.socket)) === this.#inode;
  }

  /** Listens on a fresh socket (the old server, if any, goes). */
  async serve(): Promise<void> {
    await this.stop();
    this.#binding = devicePluginBinding(this.pool, this.#log);
    this.#server = await startGrpcServer({ listenOn: `unix://${this.socket}`, services: [this.#binding] });
    this.#inode = await inodeOf(this.socket);
  }

  async stop(): Promise<void> {
    this.#binding?.endStreams();
    await this.#server?.stop(500);
    this.#server = undefined;
  }
}

export interface KubeletOptions {
  /** Where kubelet.sock is and plugin sockets go (NSM_DEVICE_PLUGIN_PATH). */
  dir: string;
  /** How often the sockets are looked at besides the directory watch. */
  checkEveryMs: number;
  log: Logger;
}

/**
 * Each pool is a device plugin of the kubelet: it serves its socket first (the kubelet calls
 * GetDevicePluginOptions inside Register), then registers. When the kubelet restarts it empties
 * the directory and creates kubelet.sock anew: seen by a watch of the directory (and a check every
 * `checkEveryMs`), every pool listens on a fresh socket and registers again. A kubelet that is not
 * there yet is asked again with backoff.
 */
export class KubeletRegistration {
  readonly #endpoints: PluginEndpoint[];
  readonly #o: KubeletOptions;
  readonly #stop = new AbortController();
  readonly #wakeup = new Wakeup();
  #registeredWith?: number;
  #watcher?: FSWatcher;
  #loop?: Promise<void>;
  /** Registrations made, for tests and logs. */
  registrations = 0;

  constructor(pools: readonly DevicePool[], o: KubeletOptions) {
    this.#o = o;
    this.#endpoints = pools.map((p) => new PluginEndpoint(p, o.dir, o.log));
  }

  get kubeletSocket(): string {
    return join(this.#o.dir, KUBELET_SOCKET);
  }

  async start(): Promise<void> {
    for (const e of this.#endpoints) await e.serve();
    this.#watch();
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    this.#watcher?.close();
    await this.#loop;
    for (const e of this.#endpoints) await e.stop();
  }

  #watch(): void {
    try {
      this.#watcher = watch(this.#o.dir, () => this.#wakeup.wake());
      this.#watcher.on('error', () => {
        this.#watcher?.close();
        this.#watcher = undefined;
      });
    } catch {
      // No directory to watch: the periodic check still sees the kubelet come.
    }
  }

  async #needed(): Promise<boolean> {
    if ((await inodeOf(this.kubeletSocket)) !== this.#registeredWith) return true;
    for (const e of this.#endpoints) if (!(await e.serving())) return true;
    return false;
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      if (await this.#needed()) {
        await retry(() => this.#registerAll(), {
          backoff: { floorMs: 250, capMs: 5000 },
          signal,
          wakeup: this.#wakeup,
          onFailure: (f) => (f.attempt === 1 ? this.#o.log.warn.bind(this.#o.log) : this.#o.log.debug.bind(this.#o.log))(
            { kubelet: this.kubeletSocket, attempt: f.attempt, err: toNsmError(f.error).message }, 'cannot register the device pools with the kubelet; trying again'),
        }).catch(() => {}); // only stop() ends it
      }
      if (!this.#watcher && !signal.aborted) this.#watch();
      await this.#wakeup.sleep(this.#o.checkEveryMs, signal);
    }
  }

  /** Listens again where a socket is gone, then registers every pool with the kubelet there now. */
  async #registerAll(): Promise<void> {
    const kubelet = await inodeOf(this.kubeletSocket);
    for (const e of this.#endpoints) if (!(await e.serving())) await e.serve();
    const channel = await dial(`unix://${this.kubeletSocket}`, { dialTimeoutMs: 5000, signal: this.#stop.signal });
    try {
      for (const e of this.#endpoints) {
        await unary(channel, RegistrationDefinition, RegistrationDefinition.methods.register, {
          version: API_VERSION, endpoint: pluginSocketName(e.pool.resource), resourceName: e.pool.resource, options: PLUGIN_OPTIONS,
        }, { timeoutMs: CALL_TIMEOUT_MS, signal: this.#stop.signal });
        this.registrations++;
      }
    } finally {
      channel.close();
    }
    this.#registeredWith = kubelet;
    this.#o.log.info({ kubelet: this.kubeletSocket, resources: this.#endpoints.map((e) => e.pool.resource) }, 'device pools registered with the kubelet');
  }
}
