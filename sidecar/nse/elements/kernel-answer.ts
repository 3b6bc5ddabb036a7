import { Cls, kernelMechanism, MechanismType } from '../../../proto/api.ts';
import type { Element } from '../../../sdk/chain/types.ts';
import { negotiate } from '../../../sdk/negotiate.ts';

/** Accepts a KERNEL mechanism and answers with this endpoint's network namespace. */
export function kernelAnswer(netnsUrl: string): Element {
  return {
    name: 'kernel-answer',
    async request(ctx, req, next) {
      const conn = req.connection!;
      negotiate(conn.mechanism, req.mechanismPreferences, [{ type: MechanismType.KERNEL, cls: Cls.LOCAL }]);
      return next.request(ctx, { ...req, connection: { ...conn, mechanism: kernelMechanism({ inodeURL: netnsUrl }) } });
    },
  };
}
