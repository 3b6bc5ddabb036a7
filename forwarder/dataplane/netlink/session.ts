import { IpSession, type BatchSession, type GroupOutcome } from '../ip-session.ts';
import { parseIpLine, type LinkOp } from './ip-lines.ts';
import type { NetlinkThread } from './thread.ts';

let sessions = 0;

const deletes = (ops: LinkOp[]) => ops.some((op) => op.op === 'delete-group');

/**
 * A namespace's session for IpBatchRunner, carried out over netlink by the forwarder's netlink
 * thread, which needs no process in the namespace. Two kinds of write go to an `ip` process of
 * the session's own instead (started when first needed):
 * - groups that delete links: a deletion sleeps tens of milliseconds in the kernel (grace
 *   periods), and processes in many namespaces sleep side by side where one thread would queue;
 * - a write with a line the thread does not know (ip-lines.ts), whole.
 * The groups of one write run in order, whichever way each goes.
 */
export class NetlinkSession implements BatchSession {
  readonly #id = ++sessions;
  readonly #netns: string;
  readonly #thread: NetlinkThread;
  readonly #newIp: (netnsPath: string) => BatchSession;
  #ip?: BatchSession;
  #ended = false;

  constructor(netnsPath: string, thread: NetlinkThread, newIp: (netnsPath: string) => BatchSession = (p) => new IpSession(p)) {
    this.#netns = netnsPath;
    this.#thread = thread;
    this.#newIp = newIp;
  }

  get alive(): boolean {
    return !this.#ended;
  }

  send(groups: readonly (readonly string[])[]): Promise<GroupOutcome>[] {
    const ops = groups.map((g) => g.map(parseIpLine));
    if (!ops.every((g): g is LinkOp[] => g.every((op) => op !== undefined))) return this.#ipSession().send(groups);
    const outcomes: Promise<GroupOutcome>[] = [];
    let previous: Promise<GroupOutcome[]> = Promise.resolve([]);
    for (let start = 0; start < ops.length;) {
      const toIp = deletes(ops[start]);
      let end = start + 1;
      while (end < ops.length && deletes(ops[end]) === toIp) end++;
      const [from, to] = [start, end];
      // As with one `ip` process: after a group that did not run through, none of the later ones runs.
      const ran = previous.then((before): Promise<GroupOutcome[]> | GroupOutcome[] => {
        if (!before.every((o) => o.kind === 'done')) return ops.slice(from, to).map(() => ({ kind: 'not-run' }));
        if (toIp) return Promise.all(this.#ipSession().send(groups.slice(from, to)));
        return this.#thread.run(this.#id, this.#netns, ops.slice(from, to));
      });
      for (let i = from; i < to; i++) outcomes.push(ran.then((os) => os[i - from]));
      previous = ran;
      start = end;
    }
    return outcomes;
  }

  #ipSession(): BatchSession {
    if (!this.#ip?.alive) this.#ip = this.#newIp(this.#netns);
    return this.#ip;
  }

  end(): void {
    this.#ended = true;
    this.#thread.end(this.#id);
    this.#ip?.end();
  }
}
