import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  DevicePluginDefinition, type Device, type DevicePluginOptions, type RegisterRequest,
} from '../../proto/gen/deviceplugin/v1beta1/api.ts';
import { NsmError, toNsmError } from '../../sdk/errors.ts';
import { dial, serverStream, unary, type Channel } from '../../sdk/grpc/client.ts';
import { extendedResourceProblem } from '../../sdk/k8s/extended-resource.ts';
import type { Logger } from '../../sdk/log.ts';

export const SUPPORTED_VERSIONS = ['v1beta1'];
/** How long the kubelet waits for a registering plugin's socket. */
const PLUGIN_DIAL_MS = 10_000;

/** A registered device plugin as the kubelet keeps it: its channel, options and latest device list. */
export interface Plugin {
  resource: string;
  endpoint: string;
  channel: Channel;
  options: DevicePluginOptions;
  /** The whole list of the last ListAndWatch message; every device Unhealthy once the stream ended. */
  devices: Device[];
  streaming: boolean;
  stop: AbortController;
}

/**
 * The kubelet's device manager as far as plugins see it: Register checks the version and the
 * resource name, dials the plugin's socket and asks GetDevicePluginOptions before it answers (so
 * a plugin must serve first), then keeps a ListAndWatch stream open. Registering a resource again
 * replaces its plugin.
 */
export class PluginTable {
  readonly #dir: string;
  readonly #log: Logger;
  readonly #plugins = new Map<string, Plugin>();
  readonly #listeners = new Set<(p: Plugin) => void>();

  constructor(dir: string, log: Logger) {
    this.#dir = dir;
    this.#log = log;
  }

  get(resource: string): Plugin | undefined {
    return this.#plugins.get(resource);
  }

  list(): Plugin[] {
    return [...this.#plugins.values()];
  }

  /** Hears of every registration and every ListAndWatch message. */
  onChange(listener: (p: Plugin) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #changed(p: Plugin): void {
    for (const l of this.#listeners) l(p);
  }

  async register(req: RegisterRequest): Promise<void> {
    if (!SUPPORTED_VERSIONS.includes(req.version)) throw new NsmError('INVALID_ARGUMENT', `requested device plugin API version ${JSON.stringify(req.version)} is not supported by the kubelet (${SUPPORTED_VERSIONS.join(', ')})`);
    const why = extendedResourceProblem(req.resourceName);
    if (why) throw new NsmError('INVALID_ARGUMENT', `invalid extended resource name: ${why}`);
    if (req.endpoint === '' || req.endpoint.includes('/')) throw new NsmError('INVALID_ARGUMENT', `endpoint ${JSON.stringify(req.endpoint)} must be a socket file name in ${this.#dir}`);
    const socket = join(this.#dir, req.endpoint);
    if (!existsSync(socket)) throw new NsmError('UNAVAILABLE', `nothing serves ${socket}: a plugin serves its socket before it registers`);
    const channel = await dial(`unix://${socket}`, { dialTimeoutMs: PLUGIN_DIAL_MS });
    let options: DevicePluginOptions;
    try {
      options = await unary(channel, DevicePluginDefinition, DevicePluginDefinition.methods.getDevicePluginOptions, {}, { timeoutMs: PLUGIN_DIAL_MS });
    } catch (err) {
      channel.close();
      throw new NsmError('UNAVAILABLE', `the plugin of ${req.resourceName} does not answer GetDevicePluginOptions on ${req.endpoint}: ${toNsmError(err).message}`);
    }
    this.#drop(req.resourceName);
    const plugin: Plugin = { resource: req.resourceName, endpoint: req.endpoint, channel, options, devices: [], streaming: true, stop: new AbortController() };
    this.#plugins.set(req.resourceName, plugin);
    this.#log.info({ resource: req.resourceName, endpoint: req.endpoint }, 'device plugin registered');
    this.#changed(plugin);
    void this.#watch(plugin);
  }

  async #watch(p: Plugin): Promise<void> {
    try {
      for await (const msg of serverStream(p.channel, DevicePluginDefinition, DevicePluginDefinition.methods.listAndWatch, {}, { signal: p.stop.signal })) {
        p.devices = msg.devices;
        this.#changed(p);
      }
    } catch (err) {
      if (!p.stop.signal.aborted) this.#log.info({ resource: p.resource, err: toNsmError(err).message }, 'ListAndWatch ended');
    }
    p.streaming = false;
    p.devices = p.devices.map((d) => ({ ...d, health: 'Unhealthy' }));
    this.#changed(p);
  }

  #drop(resource: string): void {
    const old = this.#plugins.get(resource);
    if (!old) return;
    old.stop.abort();
    old.channel.close();
    this.#plugins.delete(resource);
  }

  /** Forgets every plugin (the kubelet stops). */
  clear(): void {
    for (const r of [...this.#plugins.keys()]) this.#drop(r);
  }
}
