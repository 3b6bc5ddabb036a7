import { Cls, kernelMechanism, MechanismType, type Mechanism } from '../../proto/api.ts';
import { metaKey } from '../../sdk/chain/metadata.ts';
import type { Element } from '../../sdk/chain/types.ts';
import { negotiate, type Supported } from '../../sdk/negotiate.ts';

/** The client-side mechanism this forwarder agreed to, and the one the endpoint answered with. */
export const clientMechanismKey = metaKey<Mechanism>('negotiate.client');
export const endpointMechanismKey = metaKey<Mechanism>('negotiate.endpoint');

export const FORWARDER_SUPPORTS: readonly Supported[] = [{ type: MechanismType.KERNEL, cls: Cls.LOCAL }, { type: MechanismType.MEMIF, cls: Cls.LOCAL }];

/**
 * Chooses the client's mechanism, asks the endpoint with the forwarder's own preferences
 * (mechanism translation), and answers the client with its mechanism, not the endpoint's.
 */
export function negotiateMechanism(supported: readonly Supported[] = FORWARDER_SUPPORTS): Element {
  return {
    name: 'negotiate',
    async request(ctx, req, next) {
      const conn = req.connection!;
      const chosen = negotiate(clientMechanismKey.get(ctx) ?? conn.mechanism, req.mechanismPreferences, supported);
      clientMechanismKey.set(ctx, chosen);
      const outgoing = { ...conn, mechanism: endpointMechanismKey.get(ctx) };
      const resp = await next.request(ctx, { connection: outgoing, mechanismPreferences: [kernelMechanism()] });
      if (resp.mechanism) endpointMechanismKey.set(ctx, resp.mechanism);
      return { ...resp, mechanism: clientMechanismKey.get(ctx) ?? chosen };
    },
    async close(ctx, conn, next) {
      await next.close(ctx, { ...conn, mechanism: endpointMechanismKey.get(ctx) ?? conn.mechanism });
    },
  };
}
