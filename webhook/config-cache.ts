import type { InjectionConfig } from './injection-config.ts';

/**
 * A bounded cache per injection configuration (tests build many; each gets its own, dropped with
 * it). When full, the oldest entry makes room.
 */
export class ConfigCache<V> {
  readonly #caches = new WeakMap<InjectionConfig, Map<string, V>>();
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  get(config: InjectionConfig, key: string): V | undefined {
    return this.#caches.get(config)?.get(key);
  }

  set(config: InjectionConfig, key: string, value: V): void {
    let cache = this.#caches.get(config);
    if (!cache) {
      cache = new Map();
      this.#caches.set(config, cache);
    }
    if (cache.size >= this.#limit) cache.delete(cache.keys().next().value as string);
    cache.set(key, value);
  }

  delete(config: InjectionConfig, key: string): void {
    this.#caches.get(config)?.delete(key);
  }
}
