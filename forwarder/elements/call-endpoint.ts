import type { Element } from '../../sdk/chain/types.ts';
import { NsmError, isNsmError } from '../../sdk/errors.ts';
import type { ChannelSecurity } from '../../sdk/grpc/client.ts';
import { NetworkServiceClient } from '../../sdk/grpc/networkservice-client.ts';
import type { RegistryBackend } from '../../sdk/registry/types.ts';
import { endpointKey } from './roundrobin.ts';

/** One channel per endpoint URL, shared by all connections to it; dropped when it fails. */
export class ChannelPool {
  readonly #clients = new Map<string, Promise<NetworkServiceClient>>();
  readonly #dialTimeoutMs: number;
  readonly #dial: ChannelSecurity;

  constructor(dialTimeoutMs: number, dial: ChannelSecurity = {}) {
    this.#dialTimeoutMs = dialTimeoutMs;
    this.#dial = dial;
  }

  get(url: string): Promise<NetworkServiceClient> {
    let c = this.#clients.get(url);
    if (!c) {
      c = NetworkServiceClient.dial(url, { ...this.#dial, dialTimeoutMs: this.#dialTimeoutMs });
      c.catch(() => this.#clients.delete(url));
      this.#clients.set(url, c);
    }
    return c;
  }

  drop(url: string): void {
    const c = this.#clients.get(url);
    this.#clients.delete(url);
    void c?.then((x) => x.shutdown(), () => {});
  }

  closeAll(): void {
    for (const url of [...this.#clients.keys()]) this.drop(url);
  }
}

/**
 * Sends the call to the chosen endpoint (a Close without a choice goes to the endpoint named on
 * the connection). A Close whose signal is already aborted (its caller gave up, or the far side is
 * known to be gone) is not sent.
 */
export function callEndpoint(pool: ChannelPool, registry: RegistryBackend, timeoutMs: number): Element {
  const call = async <T>(url: string, f: (c: NetworkServiceClient) => Promise<T>): Promise<T> => {
    try {
      return await f(await pool.get(url));
    } catch (err) {
      if (isNsmError(err, 'UNAVAILABLE')) pool.drop(url);
      throw err;
    }
  };
  return {
    name: 'call-endpoint',
    async request(ctx, req) {
      const nse = endpointKey.get(ctx);
      if (!nse) throw new NsmError('INTERNAL', 'call-endpoint needs an endpoint chosen by roundrobin before it');
      return call(nse.url, (c) => c.request(req, { signal: ctx.signal, timeoutMs }));
    },
    async close(ctx, conn) {
      if (ctx.signal.aborted) {
        ctx.log.debug({ element: 'call-endpoint', connId: conn.id, endpoint: conn.networkServiceEndpointName }, 'Close given up before reaching the endpoint; its side of the connection expires on its own');
        return;
      }
      const url = endpointKey.get(ctx)?.url ?? registry.endpoints.get(conn.networkServiceEndpointName)?.url;
      if (!url) {
        ctx.log.warn({ element: 'call-endpoint', connId: conn.id, endpoint: conn.networkServiceEndpointName }, 'endpoint no longer registered; its side of the connection expires on its own');
        return;
      }
      await call(url, (c) => c.close(conn, { signal: ctx.signal, timeoutMs }));
    },
  };
}
