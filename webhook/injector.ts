import { BoundedCache } from './bounded-cache.ts';
import type { SerializedParts } from './containers.ts';
import { injectPod, type CachedInjection, type Decision, type InjectOptions } from './inject.ts';
import type { InjectionConfig } from './injection-config.ts';
import type { JsonObject } from './json-patch.ts';
import type { NamespaceInfo } from './namespace-info.ts';

/** The webhook's speed devices; each can be turned off (bench/webhook.ts measures what each buys). */
export interface SpeedDevices {
  decisionCache?: boolean;
  partsCache?: boolean;
}

/** The injection for one configuration, with the caches that serve it (dropped with it). */
export class Injector {
  readonly config: InjectionConfig;
  readonly #decisions: BoundedCache<CachedInjection> | undefined;
  readonly #parts: BoundedCache<SerializedParts> | undefined;

  constructor(config: InjectionConfig, devices: SpeedDevices = {}) {
    this.config = config;
    this.#decisions = devices.decisionCache === false ? undefined : new BoundedCache(512);
    this.#parts = devices.partsCache === false ? undefined : new BoundedCache(256);
  }

  inject(doc: JsonObject, ns: NamespaceInfo | undefined, options: InjectOptions = {}): Decision {
    return injectPod(doc, ns, this.config, options, { decisions: this.#decisions, parts: this.#parts });
  }
}
