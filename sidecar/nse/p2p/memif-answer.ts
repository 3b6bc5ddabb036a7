import { Cls, intParam, Keys, memifMechanism, MechanismType } from '../../../proto/api.ts';
import { closeThenRelease } from '../../../sdk/chain/rollback.ts';
import type { Element } from '../../../sdk/chain/types.ts';
import { negotiate } from '../../../sdk/negotiate.ts';
import type { MemifIds } from './memif-ids.ts';

const SPOKEN = [{ type: MechanismType.MEMIF, cls: Cls.LOCAL }, { type: MechanismType.KERNEL, cls: Cls.LOCAL }];

/**
 * Answers a MEMIF request itself with the application's socket and a memif interface id for the
 * connection; any other mechanism goes on down the chain. Close releases the id.
 */
export function memifAnswer(socketfile: string, ids: MemifIds): Element {
  return {
    name: 'memif-answer',
    async request(ctx, req, next) {
      const conn = req.connection!;
      if (negotiate(conn.mechanism, req.mechanismPreferences, SPOKEN).type !== MechanismType.MEMIF) return next.request(ctx, req);
      const had = conn.mechanism?.type === MechanismType.MEMIF ? intParam(conn.mechanism, Keys.memifId) : undefined;
      const id = ids.allocate(conn.id, had);
      return { ...conn, mechanism: memifMechanism({ socketfile, id }) };
    },
    close: (ctx, conn, next) => closeThenRelease(ctx, conn, next, () => ids.release(conn.id)),
  };
}
