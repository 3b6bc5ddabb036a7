import type { NetworkServiceEndpoint } from '../../proto/api.ts';
import type { Change, ObjectStore, RegistryBackend } from '../../sdk/registry/types.ts';

export type Locality = 'local' | 'remote' | 'local-unknown';

export interface LocalBypassRegistry extends RegistryBackend {
  /** Where an endpoint runs as seen from this forwarder. */
  locality(nse: NetworkServiceEndpoint): Locality;
  readonly peerUrl: string;
}

/**
 * Upstream's localbypass: an endpoint registering through this forwarder is published in the
 * shared registry with the forwarder's peer URL, so other nodes know whom to call; its own
 * socket URL stays here. Reads through this view show the socket URL for this node's endpoints.
 * The map lives in memory: after a restart an endpoint is served again once it registers again,
 * which `nsm nse` does as soon as it sees its connection to the forwarder come back.
 */
export function localBypass(backend: RegistryBackend, peerUrl: string): LocalBypassRegistry {
  const localUrls = new Map<string, string>();
  const inward = (nse: NetworkServiceEndpoint): NetworkServiceEndpoint => {
    const url = localUrls.get(nse.name);
    return url !== undefined && nse.url === peerUrl ? { ...nse, url } : nse;
  };
  const inner = backend.endpoints;
  const endpoints: ObjectStore<NetworkServiceEndpoint> = {
    async put(nse) {
      localUrls.set(nse.name, nse.url);
      const stored = await inner.put({ ...nse, url: peerUrl });
      return { ...stored, url: nse.url };
    },
    async delete(name) {
      localUrls.delete(name);
      return inner.delete(name);
    },
    get: (name) => {
      const nse = inner.get(name);
      return nse && inward(nse);
    },
    list: () => inner.list().map(inward),
    watch: (onChange) => inner.watch((c: Change<NetworkServiceEndpoint>) => onChange(c.kind === 'put' ? { kind: 'put', object: inward(c.object) } : c)),
  };
  return {
    services: backend.services,
    endpoints,
    peerUrl,
    ...(backend.problem ? { problem: () => backend.problem!() } : {}),
    close: () => backend.close(),
    locality(nse) {
      if (localUrls.has(nse.name) && (nse.url === localUrls.get(nse.name))) return 'local';
      return nse.url === peerUrl ? 'local-unknown' : 'remote';
    },
  };
}
