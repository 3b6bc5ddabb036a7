import type { Connection } from '../../proto/api.ts';
import type { Ctx } from '../../sdk/chain/types.ts';
import { callerOf } from './caller.ts';
import type { Owners } from './ownership.ts';

/**
 * What a MonitorConnections stream shows its caller: a pod sees only the connections it owns,
 * peer forwarders see what peers own, an unidentified caller sees nothing; in-process callers see all.
 */
export function monitorScope(owners: Owners): (caller: Ctx, conn: Connection) => boolean {
  return (ctx, conn) => {
    const caller = callerOf(ctx);
    return caller.kind === 'in-process' || owners.isOwnedBy(conn.id, caller);
  };
}
