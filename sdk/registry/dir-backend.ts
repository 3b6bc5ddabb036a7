import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NetworkServiceEndpoint, RegistryNetworkService } from '../../proto/api.ts';
import { NsmError } from '../errors.ts';
import { backendOf, type Change, type ObjectStore, type RegistryBackend } from './types.ts';

interface JsonCodec<T> {
  toJSON(message: T): unknown;
  fromJSON(object: unknown): T;
}

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * One JSON file per object in `dir`. Writes go to a temporary file renamed over the target, so a
 * reader never sees half a file. Changes made by other processes arrive through fs.watch.
 */
class DirStore<T extends { name: string }> implements ObjectStore<T> {
  readonly #dir: string;
  readonly #codec: JsonCodec<T>;
  readonly #cache = new Map<string, T>();
  /** Count of this process's own puts and deletes per name. */
  readonly #writes = new Map<string, number>();
  /** Count of reloads begun per name: only the latest one's read is applied. */
  readonly #reloads = new Map<string, number>();
  readonly #listeners = new Set<(c: Change<T>) => void>();
  #watcher: FSWatcher | undefined;

  constructor(dir: string, codec: JsonCodec<T>) {
    this.#dir = dir;
    this.#codec = codec;
  }

  async open(): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    this.#watcher = watch(this.#dir, (_event, file) => {
      if (file && file.endsWith('.json')) void this.#reload(file.slice(0, -5));
    });
    for (const file of await readdir(this.#dir)) if (file.endsWith('.json')) await this.#reload(file.slice(0, -5));
  }

  close(): void {
    this.#watcher?.close();
  }

  #path(name: string): string {
    if (!SAFE_NAME.test(name)) throw new NsmError('INVALID_ARGUMENT', `registry name ${JSON.stringify(name)} may contain only letters, digits, '-', '_' and '.'`);
    return join(this.#dir, `${name}.json`);
  }

  async #reload(name: string): Promise<void> {
    if (!SAFE_NAME.test(name)) return;
    const seq = this.#writes.get(name);
    const reload = (this.#reloads.get(name) ?? 0) + 1;
    this.#reloads.set(name, reload);
    let text: string | undefined;
    try {
      text = await readFile(this.#path(name), 'utf8');
    } catch {
      text = undefined;
    }
    // A put or delete of this process since the read began is newer than what was read; so is
    // what a later reload reads (reads of one file can complete out of order).
    if (this.#writes.get(name) !== seq || this.#reloads.get(name) !== reload) return;
    if (text === undefined) {
      if (this.#cache.delete(name)) this.#emit({ kind: 'delete', name });
      return;
    }
    let object: T;
    try {
      object = this.#codec.fromJSON(JSON.parse(text));
    } catch {
      return; // a file being replaced; the rename that completes it triggers another event
    }
    const before = this.#cache.get(name);
    this.#cache.set(name, object);
    if (!this.#same(before, object)) this.#emit({ kind: 'put', object });
  }

  #emit(change: Change<T>): void {
    for (const l of this.#listeners) l(change);
  }

  #same(a: T | undefined, b: T): boolean {
    return a !== undefined && JSON.stringify(this.#codec.toJSON(a)) === JSON.stringify(this.#codec.toJSON(b));
  }

  #wrote(name: string): void {
    this.#writes.set(name, (this.#writes.get(name) ?? 0) + 1);
  }

  /** Writes only what changed, so a refresh that changes nothing touches no file. */
  async put(object: T): Promise<T> {
    const path = this.#path(object.name);
    if (this.#same(this.#cache.get(object.name), object)) return object;
    this.#wrote(object.name);
    const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    await writeFile(tmp, `${JSON.stringify(this.#codec.toJSON(object), null, 2)}\n`);
    await rename(tmp, path);
    const had = this.#cache.get(object.name);
    this.#cache.set(object.name, object);
    if (!this.#same(had, object)) this.#emit({ kind: 'put', object });
    return object;
  }

  async delete(name: string): Promise<boolean> {
    this.#wrote(name);
    const existed = this.#cache.delete(name);
    await rm(this.#path(name), { force: true });
    if (existed) this.#emit({ kind: 'delete', name });
    return existed;
  }

  get(name: string): T | undefined {
    return this.#cache.get(name);
  }

  list(): T[] {
    return [...this.#cache.values()];
  }

  watch(onChange: (change: Change<T>) => void): () => void {
    this.#listeners.add(onChange);
    return () => this.#listeners.delete(onChange);
  }
}

/** The local directory backend: `<dir>/networkservices/*.json`, `<dir>/networkserviceendpoints/*.json`. */
export async function openDirRegistry(dir: string): Promise<RegistryBackend> {
  const services = new DirStore<RegistryNetworkService>(join(dir, 'networkservices'), RegistryNetworkService);
  const endpoints = new DirStore<NetworkServiceEndpoint>(join(dir, 'networkserviceendpoints'), NetworkServiceEndpoint);
  await services.open();
  await endpoints.open();
  return backendOf(services, endpoints);
}
