import type { Element } from '../../sdk/chain/types.ts';
import { isNsmError } from '../../sdk/errors.ts';
import type { ChannelPool } from '../../sdk/grpc/channel-pool.ts';
import type { NetworkServiceClient } from '../../sdk/grpc/networkservice-client.ts';
import type { RegistryBackend } from '../../sdk/registry/types.ts';
import { ENDPOINT, endpointKey } from './roundrobin.ts';

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
    needs: [ENDPOINT],
    async request(ctx, req) {
      const nse = endpointKey.get(ctx)!;
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
