import { parseAddress } from '../../sdk/grpc/address.ts';
import type { RegistryBackend } from '../../sdk/registry/types.ts';

/**
 * The underlay addresses of the mesh's forwarders as this node knows them: its own, and the host of
 * every peer URL endpoints are published with.
 */
export function meshNodes(registry: RegistryBackend, ownIp: string): Set<string> {
  const nodes = new Set([ownIp]);
  for (const nse of registry.endpoints.list()) {
    try {
      const a = parseAddress(nse.url);
      if (a.kind === 'tcp' && a.host !== '') nodes.add(a.host.replace(/^\[(.*)\]$/, '$1'));
    } catch {
      // Not an address this check needs.
    }
  }
  return nodes;
}
