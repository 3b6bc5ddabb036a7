import type { NetworkServiceEndpoint } from '../../proto/api.ts';
import { metaKey } from '../../sdk/chain/metadata.ts';
import { ctxKey, type Element } from '../../sdk/chain/types.ts';
import { NsmError, toNsmError, type CodeName } from '../../sdk/errors.ts';
import { CANDIDATES, candidatesKey } from './discover.ts';
import { isSameNode } from './same-node.ts';

/** What roundrobin provides to the elements after it: the endpoint it is trying now. */
export const ENDPOINT = 'endpoint';
export const endpointKey = ctxKey<NetworkServiceEndpoint>('roundrobin.endpoint');
/** The endpoint a connection went to, so Close reaches the same one. */
export const chosenEndpointKey = metaKey<NetworkServiceEndpoint>('roundrobin.chosen');

/** Rotates `list` by a per-service counter. */
export function rotate<T>(list: readonly T[], counter: number): T[] {
  if (list.length === 0) return [];
  const start = counter % list.length;
  return [...list.slice(start), ...list.slice(0, start)];
}

/**
 * The order to try `candidates` in: the endpoints on this node first, then those on other nodes
 * (a bridge domain's clients join the bridge of their own node, and any service saves a tunnel),
 * each group rotated by `counter`.
 */
export function preferLocal(candidates: readonly NetworkServiceEndpoint[], counter: number): NetworkServiceEndpoint[] {
  const local = candidates.filter((e) => isSameNode(e.url));
  const remote = candidates.filter((e) => !isSameNode(e.url));
  return [...rotate(local, counter), ...rotate(remote, counter)];
}

/**
 * Tries the candidates one after another until one answers, those on this node first, starting one
 * further each time.
 */
export function roundRobin(): Element {
  const counters = new Map<string, number>();
  return {
    name: 'roundrobin',
    needs: ['metadata', CANDIDATES],
    provides: [ENDPOINT],
    async request(ctx, req, next) {
      const conn = req.connection!;
      const candidates = candidatesKey.get(ctx) ?? [];
      const n = counters.get(conn.networkService) ?? 0;
      counters.set(conn.networkService, n + 1);
      const failures: Array<{ name: string; code: CodeName; message: string }> = [];
      for (const nse of preferLocal(candidates, n)) {
        try {
          const resp = await next.request(endpointKey.with(ctx, nse), { ...req, connection: { ...conn, networkServiceEndpointName: nse.name } });
          chosenEndpointKey.set(ctx, nse);
          return resp;
        } catch (err) {
          const e = toNsmError(err);
          if (ctx.signal.aborted) throw e;
          ctx.log.warn({ element: 'roundrobin', connId: conn.id, endpoint: nse.name, code: e.code, err: e.message }, 'endpoint failed; trying the next');
          failures.push({ name: nse.name, code: e.code, message: e.message });
        }
      }
      if (failures.length === 1) throw new NsmError(failures[0].code, `endpoint ${failures[0].name}: ${failures[0].message}`);
      const code = failures.every((f) => f.code === failures[0]?.code) ? failures[0]?.code ?? 'NOT_FOUND' : 'UNAVAILABLE';
      throw new NsmError(code, `all ${failures.length} endpoints of "${conn.networkService}" failed: ${failures.map((f) => `${f.name}: ${f.message}`).join('; ')}`);
    },
    async close(ctx, conn, next) {
      const nse = chosenEndpointKey.get(ctx);
      await next.close(nse ? endpointKey.with(ctx, nse) : ctx, conn);
    },
  };
}
