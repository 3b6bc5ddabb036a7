import { Keys, MechanismType } from '../../proto/api.ts';
import type { Element } from '../../sdk/chain/types.ts';
import { NsmError } from '../../sdk/errors.ts';
import type { NetnsResolver } from '../dataplane/netns-resolver.ts';
import { clientMechanism, NEGOTIATED } from './negotiate.ts';

/**
 * Checks before anything else is done that the client's namespace (KERNEL `inodeURL`) exists on
 * this node, so a bad request fails with INVALID_ARGUMENT and no endpoint is bothered.
 */
export function clientNetns(resolver: NetnsResolver): Element {
  return {
    name: 'client-netns',
    needs: [NEGOTIATED],
    async request(ctx, req, next) {
      const m = clientMechanism(ctx);
      if (m.type === MechanismType.KERNEL) {
        const url = m.parameters[Keys.inodeURL];
        if (!url) throw new NsmError('INVALID_ARGUMENT', 'KERNEL mechanism without inodeURL: the client must name its network namespace (inode://<dev>/<ino>)');
        if (!m.parameters[Keys.name]) throw new NsmError('INVALID_ARGUMENT', 'KERNEL mechanism without name: the client must name its interface');
        await resolver.resolve(url);
      }
      return next.request(ctx, req);
    },
  };
}
