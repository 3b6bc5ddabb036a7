import { NetworkServiceEndpoint } from '../../proto/api.ts';
import { RegistryClient } from '../../sdk/registry/client.ts';
import { retry } from '../../sdk/retry.ts';
import type { Dialer } from './client.ts';
import type { KeptConnection } from './kept-connection.ts';

/**
 * While `signal` lives, watches the registry (through the forwarder) for endpoints of `k`'s
 * service and wakes its loop whenever one registers, anew or again (a later expiry), so a client
 * waiting for an endpoint connects as soon as there is one.
 */
export async function wakeOnRegistration(d: Dialer, k: KeptConnection, signal: AbortSignal): Promise<void> {
  const seen = new Map<string, number>();
  const query = { networkServiceEndpoint: NetworkServiceEndpoint.fromPartial({ networkServiceNames: [k.url.service] }), watch: true };
  await retry(async (a) => {
    const registry = new RegistryClient((await d.client()).channel);
    for await (const r of registry.findEndpoints(query, { signal })) {
      a.reset();
      const e = r.networkServiceEndpoint;
      if (!e || r.deleted) continue;
      const expires = e.expirationTime?.getTime() ?? 0;
      if ((seen.get(e.name) ?? -1) >= expires) continue;
      seen.set(e.name, expires);
      k.wakeup.wake();
    }
    throw new Error('the registry stream ended');
  }, { signal, backoff: { floorMs: 500, capMs: 5000 } }).catch(() => {}); // only the signal ends the watch
}
