import { Cls, Keys, MechanismType, type Mechanism } from '../../proto/api.ts';
import { MemifOwnerKeys } from '../../proto/memif.ts';
import type { Element } from '../../sdk/chain/types.ts';
import { callerOf, netnsUrlOf, type Caller } from './caller.ts';
import { refuse } from './refuse.ts';

/** What a caller may not name in a mechanism, or undefined when it may. */
function forbidden(caller: Caller, m: Mechanism): string | undefined {
  const netns = m.parameters[Keys.inodeURL];
  if (caller.kind === 'peer') {
    if (m.cls === Cls.LOCAL || netns) return `a peer forwarder may not ask for a ${m.type} (${m.cls}) mechanism: it is trusted for the path it carries, never for a network namespace of this node`;
    return undefined;
  }
  if (caller.kind === 'unidentified') {
    return netns || m.type === MechanismType.MEMIF
      ? 'the forwarder could not identify the calling process (its credentials or network namespace could not be read), so it may not name a network namespace or ask for memif'
      : undefined;
  }
  if (caller.kind === 'local' && netns && netns !== netnsUrlOf(caller.netns)) {
    return `the request names network namespace ${netns}, but the caller runs in ${netnsUrlOf(caller.netns)}: a pod may ask for interfaces only in its own network namespace`;
  }
  return undefined;
}

/** A memif client is whoever the kernel says is calling, whatever the request claims. */
function memifOwnedByCaller(m: Mechanism, caller: Caller): Mechanism {
  if (m.type !== MechanismType.MEMIF || caller.kind !== 'local') return m;
  return { ...m, parameters: { ...m.parameters, [MemifOwnerKeys.uid]: String(caller.uid), [MemifOwnerKeys.gid]: String(caller.gid) } };
}

/**
 * A local caller may name only its own network namespace (KERNEL `inodeURL`), and its memif
 * socket is handed to the uid/gid the kernel reports for it; a peer forwarder may ask only for
 * tunnels. Refused before anything keeps state or touches the kernel, so a refusal changes
 * nothing. Place it first after updatepath.
 */
export function ownNamespaceOnly(): Element {
  return {
    name: 'own-namespace',
    async request(ctx, req, next) {
      const caller = callerOf(ctx);
      if (caller.kind === 'in-process') return next.request(ctx, req);
      const conn = req.connection!;
      for (const m of [...(conn.mechanism ? [conn.mechanism] : []), ...req.mechanismPreferences]) {
        const why = forbidden(caller, m);
        if (why) refuse(ctx, caller, 'Request', why);
      }
      return next.request(ctx, { ...req, mechanismPreferences: req.mechanismPreferences.map((m) => memifOwnedByCaller(m, caller)) });
    },
  };
}
