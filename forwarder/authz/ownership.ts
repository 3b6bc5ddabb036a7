import { closeThenRelease } from '../../sdk/chain/rollback.ts';
import type { Element } from '../../sdk/chain/types.ts';
import type { AdoptionTable } from '../dataplane/adoption.ts';
import { endpointIfname } from '../dataplane/veth.ts';
import { callerOf, netnsUrlOf, type Caller } from './caller.ts';
import { refuse } from './refuse.ts';

/** Who a connection belongs to: the network namespace of the local caller that created it, or the peers. */
type Owner = { kind: 'netns'; netns: string } | { kind: 'peers' };

const ownerOf = (c: Caller): Owner | undefined => (c.kind === 'local' ? { kind: 'netns', netns: c.netns } : c.kind === 'peer' ? { kind: 'peers' } : undefined);
const same = (a: Owner, b: Owner | undefined) => b !== undefined && a.kind === b.kind && (a.kind === 'peers' || a.netns === (b as { netns: string }).netns);
const shown = (o: Owner) => (o.kind === 'peers' ? 'a peer forwarder' : `network namespace ${netnsUrlOf(o.netns)}`);

/** The owners of this forwarder's connections, by connection id (this hop's path segment id). */
export class Owners {
  readonly #owners = new Map<string, Owner>();
  readonly #adoption?: AdoptionTable;

  constructor(adoption?: AdoptionTable) {
    this.#adoption = adoption;
  }

  get size(): number {
    return this.#owners.size;
  }

  get(id: string): Owner | undefined {
    const known = this.#owners.get(id);
    if (known) return known;
    const adopted = this.#fromKernel(id);
    if (adopted) this.#owners.set(id, adopted);
    return adopted;
  }

  set(id: string, owner: Owner): void {
    this.#owners.set(id, owner);
  }

  delete(id: string): void {
    this.#owners.delete(id);
  }

  /** Whether connection `id` belongs to `caller` (an unknown connection belongs to nobody). */
  isOwnedBy(id: string, caller: Caller): boolean {
    const owner = this.get(id);
    return owner !== undefined && same(owner, ownerOf(caller));
  }

  /**
   * After a restart the kernel tells: a connection's client end lies in its owner's namespace
   * (the endpoint end carries the name derived from the id). A connection of which only an
   * endpoint end is left here was made for a peer.
   */
  #fromKernel(id: string): Owner | undefined {
    const ends = this.#adoption?.ends(id);
    if (!ends || ends.length === 0) return undefined;
    const client = ends.find((e) => e.ifname !== endpointIfname(id));
    return client ? { kind: 'netns', netns: client.netns.key } : { kind: 'peers' };
  }
}

/**
 * A connection belongs to whoever created it: a refresh or Close from anyone else is refused and
 * changes nothing. The owner is recorded before the first Request goes on, so a second caller
 * racing it with the same id is refused too. A Close for a connection this forwarder does not know
 * is answered without passing it on: nothing of the caller's is here to close. Place it after
 * updatepath (the id is this hop's) and before begin (a refused Close must not reach the elements
 * that forget state); `releaseOwner` after begin forgets owners of closed connections.
 */
export function connectionOwner(owners: Owners): Element {
  return {
    name: 'connection-owner',
    async request(ctx, req, next) {
      const caller = callerOf(ctx);
      const me = ownerOf(caller);
      if (caller.kind === 'in-process') return next.request(ctx, req);
      const id = req.connection!.id;
      const owner = owners.get(id);
      if (!me || (owner && !same(owner, me))) refuse(ctx, caller, 'Request', `connection ${id} belongs to ${owner ? shown(owner) : 'an identified caller'}; only its owner may refresh it`);
      const fresh = owner === undefined;
      if (fresh) owners.set(id, me);
      try {
        return await next.request(ctx, req);
      } catch (err) {
        if (fresh && same(me, owners.get(id))) owners.delete(id);
        throw err;
      }
    },
    async close(ctx, conn, next) {
      const caller = callerOf(ctx);
      if (caller.kind === 'in-process') return next.close(ctx, conn);
      const owner = owners.get(conn.id);
      if (!owner) {
        ctx.log.debug({ element: 'connection-owner', connId: conn.id }, 'Close for a connection this forwarder does not have; nothing to do');
        return;
      }
      if (!same(owner, ownerOf(caller))) refuse(ctx, caller, 'Close', `connection ${conn.id} belongs to ${shown(owner)}; only its owner may close it`);
      await next.close(ctx, conn);
    },
  };
}

/** Forgets the owner once a connection is closed, whoever closed it (its client, or expiry). */
export function releaseOwner(owners: Owners): Element {
  return {
    name: 'release-owner',
    needs: ['begin'],
    close: (ctx, conn, next) => closeThenRelease(ctx, conn, next, () => owners.delete(conn.id)),
  };
}
