import { Connection } from '../../../proto/api.ts';
import { metaKey } from '../../../sdk/chain/metadata.ts';
import { undoThenClose } from '../../../sdk/chain/rollback.ts';
import { KeyedSerializer } from '../../../sdk/chain/serialize.ts';
import type { Element } from '../../../sdk/chain/types.ts';
import type { Hook } from './hook.ts';

/** The parameters the device was last configured with, for this connection. */
const appliedKey = metaKey<string>('device-hook.applied');

/** What the hook reads on stdin: the connection as the endpoint answers it, in the form clients write to their connections directory. */
export const hookInput = (conn: Connection) => `${JSON.stringify(Connection.toJSON(conn), null, 2)}\n`;

/**
 * What `apply` depends on: the connection without its path (expiry and tokens change on every
 * refresh) and without the context's extra entries (what forwarders tell their clients).
 */
const parametersOf = (conn: Connection) => {
  const context = conn.context && { ...conn.context, extraContext: {} };
  return JSON.stringify(Connection.toJSON({ ...conn, path: undefined, context }));
};

/**
 * Configures the device once the connection is negotiated, before the endpoint answers:
 * `apply` for a new connection, again only when its parameters changed (a refresh after an
 * endpoint restart applies again, since nothing is known to be applied); `delete` at Close and at
 * expiry. A failed apply fails the Request (the elements before roll back) and, for a connection
 * the device never had, is followed by a `delete` in the background, as a runtime follows a failed
 * CNI ADD with DEL. Runs of the hook for one connection never overlap. Last in the chain.
 */
export function deviceHook(hook: Hook): Element {
  const runs = new KeyedSerializer();
  return {
    name: 'device-hook',
    async request(ctx, req, next) {
      const conn = await next.request(ctx, req);
      const parameters = parametersOf(conn);
      const applied = appliedKey.get(ctx);
      if (applied === parameters) return conn;
      try {
        await runs.run(conn.id, () => hook.run('apply', hookInput(conn), ctx.signal));
      } catch (err) {
        if (applied === undefined) {
          void runs.run(conn.id, () => hook.run('delete', hookInput(conn))).catch((e: unknown) => ctx.log.warn({ element: 'device-hook', connId: conn.id, err: e }, 'delete after a failed apply failed too'));
        }
        throw err;
      }
      appliedKey.set(ctx, parameters);
      return conn;
    },
    close(ctx, conn, next) {
      appliedKey.delete(ctx);
      return undoThenClose(ctx, conn, next, () => runs.run(conn.id, () => hook.run('delete', hookInput(conn))));
    },
  };
}
