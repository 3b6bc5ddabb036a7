import type { Logger } from '../../sdk/log.ts';
import type { NetnsResolver } from './netns-resolver.ts';
import type { KernelRunner, Netns } from './runner.ts';
import { deleteEnd, DOOMED_LINK_GROUP, NSM_LINK_GROUP, ownerPrefix } from './veth.ts';

export interface FoundEnd {
  netns: Netns;
  ifname: string;
  ifindex: number;
}

const gone = (err: unknown) => /Cannot find device|No such device/.test(String((err as Error)?.message ?? err));

/** Removes one end (and so the pair) in bulk with others; an end that is already gone is fine. */
export async function removeEnd(runner: KernelRunner, netns: Netns, ifname: string): Promise<void> {
  const d = deleteEnd(ifname);
  try {
    await runner.run(netns, d.commands, { finally: d.finally });
  } catch (err) {
    if (!gone(err)) throw err;
  }
}

/**
 * What a previous forwarder of the same name left in the kernel: links in the nsm group carrying
 * `nsm:<owner>:<connId>`.
 * A connection whose client refreshes claims its links; what nobody claims by the deadline is
 * deleted. Links left in the doomed group are deleted at once.
 */
export class AdoptionTable {
  readonly #found = new Map<string, FoundEnd[]>();
  readonly #runner: KernelRunner;
  readonly #resolver: NetnsResolver;
  readonly #log: Logger;
  /** The forwarder whose links these are; links of other owners are never touched. */
  readonly owner: string;

  constructor(runner: KernelRunner, resolver: NetnsResolver, log: Logger, owner = '') {
    this.#runner = runner;
    this.#resolver = resolver;
    this.#log = log;
    this.owner = owner;
  }

  get size(): number {
    return this.#found.size;
  }

  async scan(): Promise<number> {
    for (const netns of await this.#resolver.all()) {
      let links;
      try {
        links = await this.#runner.links(netns, ['group', String(NSM_LINK_GROUP)]);
        const doomed = await this.#runner.links(netns, ['group', String(DOOMED_LINK_GROUP)]);
        if (doomed.length > 0) await this.#runner.run(netns, [], { finally: [`link del group ${DOOMED_LINK_GROUP}`] }).catch(() => {});
      } catch {
        continue; // the namespace went away while scanning
      }
      const prefix = ownerPrefix(this.owner);
      for (const l of links) {
        if (!l.ifalias?.startsWith(prefix)) continue;
        const id = l.ifalias.slice(prefix.length);
        this.#found.set(id, [...(this.#found.get(id) ?? []), { netns, ifname: l.ifname, ifindex: l.ifindex }]);
      }
    }
    if (this.#found.size > 0) this.#log.info({ connections: this.#found.size }, 'found connections of a previous forwarder; keeping them for their clients');
    return this.#found.size;
  }

  claim(connId: string): FoundEnd[] | undefined {
    const ends = this.#found.get(connId);
    this.#found.delete(connId);
    return ends;
  }

  /** Deletes every connection nobody claimed. */
  async expire(): Promise<number> {
    const left = [...this.#found];
    this.#found.clear();
    await Promise.all(left.map(async ([id, ends]) => {
      this.#log.info({ connId: id }, 'no client claimed this connection; deleting its interfaces');
      await Promise.all(ends.map((e) => removeEnd(this.#runner, e.netns, e.ifname).catch((err: unknown) => this.#log.warn({ connId: id, err }, 'deleting a stale interface failed'))));
    }));
    return left.length;
  }
}
