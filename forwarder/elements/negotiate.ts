import { Cls, kernelMechanism, MechanismType, type Mechanism } from '../../proto/api.ts';
import { metaKey } from '../../sdk/chain/metadata.ts';
import type { Ctx, Element } from '../../sdk/chain/types.ts';
import { NsmError } from '../../sdk/errors.ts';
import { negotiate, type Supported } from '../../sdk/negotiate.ts';

export const FORWARDER_SUPPORTS: readonly Supported[] = [{ type: MechanismType.KERNEL, cls: Cls.LOCAL }, { type: MechanismType.MEMIF, cls: Cls.LOCAL }];

/** What negotiate provides to the elements after it. */
export const NEGOTIATED = 'negotiated-mechanism';

/** The connection's client-side mechanism and the endpoint's; written only here. */
interface Mechanisms {
  client: Mechanism;
  endpoint?: Mechanism;
}

const mechanismsKey = metaKey<Mechanisms>('negotiate.mechanisms');

function current(ctx: Ctx): Mechanisms {
  const m = mechanismsKey.get(ctx);
  if (!m) throw new NsmError('INTERNAL', 'no mechanism was negotiated for this connection');
  return m;
}

/** The client-side mechanism chosen for this connection (its offer, as completed so far); on a Request path after negotiate. */
export const clientMechanism = (ctx: Ctx): Mechanism => current(ctx).client;

/** The same where a connection may be unknown here (a Close after a restart): undefined then. */
export const knownClientMechanism = (ctx: Ctx): Mechanism | undefined => mechanismsKey.get(ctx)?.client;

/**
 * The changes an element after negotiate may ask for, each checked here: realise another of the
 * client's own offers instead (memif → its kernel fallback), or complete the chosen mechanism with
 * what the element built (the memif socket it handed out, a tunnel's parameters). The type never
 * changes by completion, so what the client is answered is always one of its offers, completed.
 */
export const negotiation = {
  fallBack(ctx: Ctx, offers: readonly Mechanism[], to: Mechanism): void {
    if (!offers.includes(to)) throw new NsmError('INTERNAL', `${to.type} is not one of the client's offers`);
    current(ctx).client = to;
  },
  complete(ctx: Ctx, completed: Mechanism): void {
    const m = current(ctx);
    if (completed.type !== m.client.type || completed.cls !== m.client.cls) throw new NsmError('INTERNAL', `a ${m.client.type} connection cannot be completed as ${completed.type}`);
    m.client = completed;
  },
};

/**
 * Chooses the client's mechanism, asks the endpoint with the forwarder's own preferences
 * (mechanism translation), and answers the client with its mechanism, not the endpoint's; a
 * refresh keeps both. Close reaches the endpoint with the endpoint's mechanism.
 */
export function negotiateMechanism(supported: readonly Supported[] = FORWARDER_SUPPORTS): Element {
  return {
    name: 'negotiate',
    needs: ['metadata'],
    provides: [NEGOTIATED],
    async request(ctx, req, next) {
      const conn = req.connection!;
      const had = mechanismsKey.get(ctx);
      const m: Mechanisms = had ?? { client: negotiate(conn.mechanism, req.mechanismPreferences, supported) };
      if (!had) mechanismsKey.set(ctx, m);
      const resp = await next.request(ctx, { connection: { ...conn, mechanism: m.endpoint }, mechanismPreferences: [kernelMechanism()] });
      if (resp.mechanism) m.endpoint = resp.mechanism;
      return { ...resp, mechanism: m.client };
    },
    async close(ctx, conn, next) {
      await next.close(ctx, { ...conn, mechanism: mechanismsKey.get(ctx)?.endpoint ?? conn.mechanism });
    },
  };
}
