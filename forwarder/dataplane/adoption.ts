import { isNsmError } from '../../sdk/errors.ts';
import type { Logger } from '../../sdk/log.ts';
import type { NetnsResolver } from './netns-resolver.ts';
import { deleteGroup } from './ops.ts';
import type { KernelRunner, LinkInfo, Netns } from './runner.ts';
import { deleteEnd, DOOMED_LINK_GROUP, NSM_LINK_GROUP, ownerPrefix } from './veth.ts';

export interface FoundEnd {
  netns: Netns;
  ifname: string;
  ifindex: number;
}

/** Namespaces scanned at the same time at start-up. */
const SCAN_WIDTH = 8;

/** Removes one end (and so the pair) in bulk with others; an end that is already gone is fine. */
export async function removeEnd(runner: KernelRunner, netns: Netns, ifname: string): Promise<void> {
  const d = deleteEnd(ifname);
  try {
    await runner.run(netns, d.ops, { finally: d.finally });
  } catch (err) {
    if (!isNsmError(err, 'NOT_FOUND')) throw err;
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

  /** Finds this forwarder's links in every namespace: one `ip link show` each, a few namespaces at a time. */
  async scan(): Promise<number> {
    const namespaces = await this.#resolver.all();
    let next = 0;
    await Promise.all(Array.from({ length: Math.min(SCAN_WIDTH, namespaces.length) }, async () => {
      while (next < namespaces.length) await this.#scanOne(namespaces[next++]);
    }));
    if (this.#found.size > 0) this.#log.info({ connections: this.#found.size }, 'found connections of a previous forwarder; keeping them for their clients');
    return this.#found.size;
  }

  async #scanOne(netns: Netns): Promise<void> {
    let links: LinkInfo[];
    try {
      links = await this.#runner.links(netns);
    } catch {
      return; // the namespace went away while scanning
    }
    const inGroup = (l: LinkInfo, group: number) => String(l.group) === String(group);
    if (links.some((l) => inGroup(l, DOOMED_LINK_GROUP))) await this.#runner.run(netns, [], { finally: [deleteGroup(DOOMED_LINK_GROUP)] }).catch(() => {});
    const prefix = ownerPrefix(this.owner);
    for (const l of links) {
      if (!inGroup(l, NSM_LINK_GROUP) || !l.ifalias?.startsWith(prefix)) continue;
      const id = l.ifalias.slice(prefix.length);
      this.#found.set(id, [...(this.#found.get(id) ?? []), { netns, ifname: l.ifname, ifindex: l.ifindex }]);
    }
  }

  /** The ends found for `connId`, left in the table. */
  ends(connId: string): readonly FoundEnd[] | undefined {
    return this.#found.get(connId);
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
