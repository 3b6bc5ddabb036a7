import { Cls, kernelMechanism, MechanismType, type BridgePort } from '../../../proto/api.ts';
import type { Element } from '../../../sdk/chain/types.ts';
import { negotiate } from '../../../sdk/negotiate.ts';

/**
 * Accepts a KERNEL mechanism and answers with this endpoint's network namespace and, for an
 * endpoint whose connections join a bridge, the bridge (in that namespace) the forwarder makes the
 * endpoint's end a port of.
 */
export function kernelAnswer(netnsUrl: string, port?: BridgePort): Element {
  return {
    name: 'kernel-answer',
    async request(ctx, req, next) {
      const conn = req.connection!;
      negotiate(conn.mechanism, req.mechanismPreferences, [{ type: MechanismType.KERNEL, cls: Cls.LOCAL }]);
      return next.request(ctx, { ...req, connection: { ...conn, mechanism: kernelMechanism({ inodeURL: netnsUrl, ...port }) } });
    },
  };
}
