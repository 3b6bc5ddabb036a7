import { BoundedCache } from './bounded-cache.ts';
import { injectPod, type CachedInjection, type Decision, type InjectOptions } from './inject.ts';
import type { InjectionConfig } from './injection-config.ts';
import type { JsonObject } from './json-patch.ts';
import type { NamespaceInfo } from './namespace-info.ts';

/**
 * The webhook's speed devices; each can be turned off, and bench/webhook.ts measures what each buys
 * (a device stays only while it buys at least 10% throughput or CPU per request: README, Benchmarks).
 */
export interface SpeedDevices {
  decisionCache?: boolean;
}

/** The injection for one configuration, with the cache that serves it (dropped with it). */
export class Injector {
  readonly config: InjectionConfig;
  readonly #decisions: BoundedCache<CachedInjection> | undefined;

  constructor(config: InjectionConfig, devices: SpeedDevices = {}) {
    this.config = config;
    this.#decisions = devices.decisionCache === false ? undefined : new BoundedCache(512);
  }

  inject(doc: JsonObject, ns: NamespaceInfo | undefined, options: InjectOptions = {}): Decision {
    return injectPod(doc, ns, this.config, options, { decisions: this.#decisions });
  }
}
