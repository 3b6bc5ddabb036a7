import { IpBackend } from '../ip/session.ts';
import { KernelError } from '../kernel-error.ts';
import type { KernelOp } from '../kernel-op.ts';
import type { Backend, KernelSession, Netns } from '../runner.ts';
import { OVER_NETLINK, type GroupResult } from './protocol.ts';
import type { NetlinkThread } from './thread.ts';

let sessions = 0;

const overNetlink = (group: readonly KernelOp[]) => group.every((op) => OVER_NETLINK.has(op.op));

function errorOf(group: readonly KernelOp[], r: GroupResult, netnsPath: string): KernelError | undefined {
  switch (r.kind) {
    case 'done':
      return undefined;
    case 'refused':
      return KernelError.refused(group[r.index], netnsPath, r.words, r.errno);
    case 'unreachable':
      return KernelError.unreachable(group[0], netnsPath, r.words);
    case 'died':
      return KernelError.died(group, netnsPath, r.words);
  }
}

/**
 * The netlink backend: every namespace's ops go over netlink from the forwarder's one netlink
 * thread, which needs no process in the namespace; a group with an op netlink does not carry
 * (protocol.ts: deletions, GRE) goes, whole, to `ip` (an `ip` session of the namespace's own,
 * started when first needed).
 */
export class NetlinkBackend implements Backend {
  readonly #thread: NetlinkThread;
  readonly #ip: Backend;

  constructor(thread: NetlinkThread, ip: Backend = new IpBackend()) {
    this.#thread = thread;
    this.#ip = ip;
  }

  open(netns: Netns): KernelSession {
    return new NetlinkSession(netns.path, this.#thread, () => this.#ip.open(netns));
  }
}

/** The groups of one `run` go in order, whichever way each goes: a run of netlink groups starts after the `ip` groups before it ran, and so on. */
class NetlinkSession implements KernelSession {
  readonly #id = ++sessions;
  readonly #path: string;
  readonly #thread: NetlinkThread;
  readonly #openIp: () => KernelSession;
  #ip?: KernelSession;

  constructor(path: string, thread: NetlinkThread, openIp: () => KernelSession) {
    this.#path = path;
    this.#thread = thread;
    this.#openIp = openIp;
  }

  run(groups: readonly (readonly KernelOp[])[]): Promise<KernelError | undefined>[] {
    const results: Promise<KernelError | undefined>[] = [];
    let previous: Promise<unknown> = Promise.resolve();
    for (let start = 0; start < groups.length;) {
      const netlink = overNetlink(groups[start]);
      let end = start + 1;
      while (end < groups.length && overNetlink(groups[end]) === netlink) end++;
      const part = groups.slice(start, end);
      const ran = previous.then(() => (netlink
        ? this.#thread.run(this.#id, this.#path, part).then((rs) => rs.map((r, i) => errorOf(part[i], r, this.#path)))
        : Promise.all(this.#ipSession().run(part))));
      results.push(...part.map((_, i) => ran.then((errs) => errs[i])));
      previous = ran;
      start = end;
    }
    return results;
  }

  #ipSession(): KernelSession {
    this.#ip ??= this.#openIp();
    return this.#ip;
  }

  end(): void {
    this.#thread.end(this.#id);
    this.#ip?.end();
  }
}
