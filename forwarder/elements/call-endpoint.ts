import { connectionProblem } from '../../proto/validate/connection.ts';
import type { Element } from '../../sdk/chain/types.ts';
import { isNsmError, NsmError } from '../../sdk/errors.ts';
import type { ChannelPool } from '../../sdk/grpc/channel-pool.ts';
import type { NetworkServiceClient } from '../../sdk/grpc/networkservice-client.ts';
import type { RegistryBackend } from '../../sdk/registry/types.ts';
import { ENDPOINT, endpointKey } from './roundrobin.ts';

/**
 * Sends the call to the chosen endpoint (a Close without a choice goes to the endpoint named on the
 * connection). An answer is held to the rules of the edge before the elements above act on it: one
 * that breaks them closes the far side and fails the Request naming the field. A Close whose signal
 * is already aborted (its caller gave up, or the far side is known to be gone) is not sent.
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
      const resp = await call(nse.url, (c) => c.request(req, { signal: ctx.signal, timeoutMs }));
      const problem = connectionProblem('answer', resp);
      if (problem === undefined) return resp;
      await call(nse.url, (c) => c.close(resp, { signal: ctx.signal, timeoutMs })).catch((err: unknown) => { ctx.log.warn({ element: 'call-endpoint', connId: resp.id, err }, 'closing a refused answer failed; it expires on its own'); });
      throw new NsmError('FAILED_PRECONDITION', `endpoint ${nse.name} answered with a connection this forwarder refuses: ${problem}`);
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
