import type { NetworkServiceEndpoint, RegistryNetworkService } from '../../proto/api.ts';

export type Change<T> = { kind: 'put'; object: T } | { kind: 'delete'; name: string };

/**
 * One kind of registry object, keyed by name. Backends: a local directory (sandbox, tests) and
 * Kubernetes CRDs. `list` answers from the backend's cache, so callers may use it on every request.
 */
export interface ObjectStore<T extends { name: string }> {
  put(object: T): Promise<T>;
  delete(name: string): Promise<boolean>;
  get(name: string): T | undefined;
  list(): T[];
  /** Calls `onChange` for every later change until the returned function is called. */
  watch(onChange: (change: Change<T>) => void): () => void;
}

/** A backend over two stores; closing it closes both. */
export function backendOf(
  services: ObjectStore<RegistryNetworkService> & { close(): void }, endpoints: ObjectStore<NetworkServiceEndpoint> & { close(): void },
  problem?: () => string | undefined,
): RegistryBackend {
  return {
    services,
    endpoints,
    ...(problem ? { problem } : {}),
    close: async () => {
      services.close();
      endpoints.close();
    },
  };
}

export interface RegistryBackend {
  readonly services: ObjectStore<RegistryNetworkService>;
  readonly endpoints: ObjectStore<NetworkServiceEndpoint>;
  /**
   * Why the backend's view may be stale (the source behind its cache cannot be reached),
   * naming that source; undefined while it is current. Backends without a remote source omit it.
   */
  problem?(): string | undefined;
  close(): Promise<void>;
}
