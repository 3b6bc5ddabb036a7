import { ApiException, CustomObjectsApi, type KubeConfig, type KubernetesListObject, type KubernetesObject, type ListWatch } from '@kubernetes/client-node';
import { keptListWatch, type KeptListWatch } from '../k8s/kept-list-watch.ts';
import type { NetworkServiceEndpoint, RegistryNetworkService } from '../../proto/api.ts';
import { NsmError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { endpointFromSpec, endpointToSpec, serviceFromSpec, serviceToSpec } from './k8s-spec.ts';
import { backendOf, type Change, type ObjectStore, type RegistryBackend } from './types.ts';

export const NSM_GROUP = 'networkservicemesh.io';
export const NSM_VERSION = 'v1';

interface CrdObject extends KubernetesObject {
  spec?: Record<string, unknown>;
}

interface Kind<T> {
  plural: string;
  kind: string;
  toSpec(o: T): Record<string, unknown>;
  fromSpec(name: string, spec?: Record<string, unknown>): T;
}

const serviceKind: Kind<RegistryNetworkService> = { plural: 'networkservices', kind: 'NetworkService', toSpec: serviceToSpec, fromSpec: serviceFromSpec };
const endpointKind: Kind<NetworkServiceEndpoint> = { plural: 'networkserviceendpoints', kind: 'NetworkServiceEndpoint', toSpec: endpointToSpec, fromSpec: endpointFromSpec };

const RESTART_MIN_MS = 500;
const RESTART_MAX_MS = 30_000;

function apiError(err: unknown, what: string): NsmError {
  if (err instanceof ApiException) {
    const code = err.code === 403 ? 'PERMISSION_DENIED' : err.code === 404 ? 'NOT_FOUND' : err.code === 409 ? 'ABORTED' : err.code === 400 || err.code === 422 ? 'INVALID_ARGUMENT' : err.code >= 500 ? 'UNAVAILABLE' : 'INTERNAL';
    const hint = err.code === 403 ? ' (check the RBAC rules for the NSM CRDs)' : err.code === 404 ? ' (are the NSM CRDs installed?)' : '';
    let detail: string;
    try {
      const body: unknown = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
      const message = body && typeof body === 'object' && 'message' in body ? body.message : undefined;
      detail = typeof message === 'string' ? message : '';
    } catch {
      detail = String(err.body);
    }
    return new NsmError(code, `Kubernetes API: ${what} failed with HTTP ${err.code}${detail ? `: ${detail}` : ''}${hint}`, { cause: err });
  }
  return new NsmError('UNAVAILABLE', `Kubernetes API: ${what} failed: ${(err as Error).message}`, { cause: err });
}

const status = (err: unknown): number | undefined => (err instanceof ApiException ? err.code : undefined);

/**
 * One CRD kind as an ObjectStore. Reads come from a list+watch cache over all namespaces (never a
 * list per lookup); a watch that expires (410 Gone) relists, a broken one restarts with backoff.
 * Writes go to `namespace`. Names are the registry's keys, so an object is found by name in any
 * namespace; when two namespaces hold the same name, the one in `namespace` wins.
 */
class CrdStore<T extends { name: string }> implements ObjectStore<T> {
  readonly #api: CustomObjectsApi;
  readonly #kind: Kind<T>;
  readonly #namespace: string;
  readonly #kept: KeptListWatch<CrdObject>;
  readonly #informer: ListWatch<CrdObject>;
  readonly #decoded = new WeakMap<CrdObject, T>();
  readonly #listeners = new Set<(c: Change<T>) => void>();

  constructor(kc: KubeConfig, kind: Kind<T>, namespace: string, log: Logger) {
    this.#api = kc.makeApiClient(CustomObjectsApi);
    this.#kind = kind;
    this.#namespace = namespace;
    this.#kept = keptListWatch<CrdObject>({
      kubeConfig: kc,
      path: `/apis/${NSM_GROUP}/${NSM_VERSION}/${kind.plural}`,
      resource: kind.plural,
      log,
      retryDelayMs: RESTART_MIN_MS,
      maxRetryDelayMs: RESTART_MAX_MS,
      list: async () => (await this.#api.listClusterCustomObject({ group: NSM_GROUP, version: NSM_VERSION, plural: kind.plural })) as KubernetesListObject<CrdObject>,
    });
    this.#informer = this.#kept.informer;
    this.#informer.on('add', (o) => this.#emitPut(o));
    this.#informer.on('update', (o) => this.#emitPut(o));
    this.#informer.on('delete', (o) => {
      const name = this.#decode(o).name;
      if (!this.get(name)) this.#emit({ kind: 'delete', name });
    });
  }

  /** Resolves after the first list; a first list that fails rejects instead of retrying. */
  async open(): Promise<void> {
    try {
      await this.#kept.start({ failFast: true });
    } catch (err) {
      throw apiError(err, `list ${this.#kind.plural}`);
    }
  }

  close(): void {
    void this.#kept.stop();
  }

  /** The error keeping the cache from being current, if any. */
  get failing(): string | undefined {
    return this.#kept.failing;
  }

  #decode(o: CrdObject): T {
    let t = this.#decoded.get(o);
    if (!t) {
      t = this.#kind.fromSpec(o.metadata?.name ?? '', o.spec);
      this.#decoded.set(o, t);
    }
    return t;
  }

  #emitPut(o: CrdObject): void {
    this.#emit({ kind: 'put', object: this.#decode(o) });
  }

  #emit(change: Change<T>): void {
    for (const l of this.#listeners) l(change);
  }

  #find(name: string): CrdObject | undefined {
    const own = this.#informer.get(name, this.#namespace);
    if (own) return own;
    return this.#informer.list().find((o) => o.metadata?.name === name);
  }

  #body(object: T, resourceVersion?: string): CrdObject {
    return {
      apiVersion: `${NSM_GROUP}/${NSM_VERSION}`,
      kind: this.#kind.kind,
      metadata: { name: object.name, namespace: this.#namespace, ...(resourceVersion ? { resourceVersion } : {}) },
      spec: this.#kind.toSpec(object),
    };
  }

  /** Replaces at `resourceVersion`; without one, reads the current version first. */
  async #replace(object: T, resourceVersion?: string): Promise<CrdObject> {
    const version = resourceVersion ?? ((await this.#api.getNamespacedCustomObject({ group: NSM_GROUP, version: NSM_VERSION, namespace: this.#namespace, plural: this.#kind.plural, name: object.name })) as CrdObject).metadata?.resourceVersion;
    return (await this.#api.replaceNamespacedCustomObject({
      group: NSM_GROUP, version: NSM_VERSION, namespace: this.#namespace, plural: this.#kind.plural, name: object.name,
      body: this.#body(object, version),
    })) as CrdObject;
  }

  #create(object: T): Promise<CrdObject> {
    return this.#api.createNamespacedCustomObject({ group: NSM_GROUP, version: NSM_VERSION, namespace: this.#namespace, plural: this.#kind.plural, body: this.#body(object) }) as Promise<CrdObject>;
  }

  /** One round trip when the cache is current (a refresh); a conflict re-reads and retries once. */
  async put(object: T): Promise<T> {
    const what = `write ${this.#kind.kind} ${this.#namespace}/${object.name}`;
    try {
      const cached = this.#informer.get(object.name, this.#namespace);
      const stored = cached
        ? await this.#replace(object, cached.metadata?.resourceVersion).catch((err: unknown) => {
          if (status(err) === 409) return this.#replace(object);
          if (status(err) === 404) return this.#create(object);
          throw err;
        })
        : await this.#create(object).catch((err: unknown) => (status(err) === 409 ? this.#replace(object) : Promise.reject(err)));
      return this.#kind.fromSpec(stored.metadata?.name ?? object.name, stored.spec);
    } catch (err) {
      throw apiError(err, what);
    }
  }

  async delete(name: string): Promise<boolean> {
    const found = this.#find(name);
    const namespace = found?.metadata?.namespace ?? this.#namespace;
    try {
      await this.#api.deleteNamespacedCustomObject({ group: NSM_GROUP, version: NSM_VERSION, namespace, plural: this.#kind.plural, name });
      return true;
    } catch (err) {
      if (status(err) === 404) return false;
      throw apiError(err, `delete ${this.#kind.kind} ${namespace}/${name}`);
    }
  }

  get(name: string): T | undefined {
    const o = this.#find(name);
    return o ? this.#decode(o) : undefined;
  }

  list(): T[] {
    const byName = new Map<string, T>();
    for (const o of this.#informer.list()) {
      const t = this.#decode(o);
      if (!byName.has(t.name) || o.metadata?.namespace === this.#namespace) byName.set(t.name, t);
    }
    return [...byName.values()];
  }

  watch(onChange: (change: Change<T>) => void): () => void {
    this.#listeners.add(onChange);
    return () => this.#listeners.delete(onChange);
  }
}

export interface KubernetesRegistryOptions {
  kubeConfig: KubeConfig;
  /** Where this component writes its objects (NSM_NAMESPACE). */
  namespace: string;
  log: Logger;
}

/** The registry on the NSM CRDs; resolves once both caches have synced. */
export async function openKubernetesRegistry(options: KubernetesRegistryOptions): Promise<RegistryBackend> {
  const services = new CrdStore(options.kubeConfig, serviceKind, options.namespace, options.log);
  const endpoints = new CrdStore(options.kubeConfig, endpointKind, options.namespace, options.log);
  try {
    await Promise.all([services.open(), endpoints.open()]);
  } catch (err) {
    services.close();
    endpoints.close();
    throw err;
  }
  const server = options.kubeConfig.getCurrentCluster()?.server ?? 'the Kubernetes API';
  const problem = () => {
    const err = endpoints.failing ?? services.failing;
    return err === undefined ? undefined : `the registry (Kubernetes API ${server}) cannot be reached: ${err}`;
  };
  return backendOf(services, endpoints, problem);
}
