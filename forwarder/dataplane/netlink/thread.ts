import { Worker } from 'node:worker_threads';
import type { GroupOutcome } from '../ip-session.ts';
import type { LinkOp } from './ip-lines.ts';
import type { FromWorker, ToWorker } from './protocol.ts';

interface Pending {
  resolve(outcomes: GroupOutcome[]): void;
  groups: number;
}

/** One worker and the requests posted to it that it has not answered. */
interface Started {
  worker: Worker;
  pending: Map<number, Pending>;
}

/**
 * The thread that talks netlink (worker.ts) for every namespace. One is enough: the kernel
 * serialises these requests on its rtnl lock, so parallel threads would only spin on it. It runs
 * requests in the order they were posted.
 * Should it die, the request it was in is `crashed` (some of it may have run) and the later ones
 * `not-run`; the next request starts a new thread.
 */
export class NetlinkThread {
  #current?: Started;
  #nextId = 0;

  /** Requests posted and not answered yet. */
  get pending(): number {
    return this.#current?.pending.size ?? 0;
  }

  run(session: number, netns: string, groups: LinkOp[][]): Promise<GroupOutcome[]> {
    const id = ++this.#nextId;
    const { worker, pending } = this.#started();
    return new Promise((resolve) => {
      pending.set(id, { resolve, groups: groups.length });
      if (pending.size === 1) worker.ref();
      worker.postMessage({ kind: 'run', id, session, netns, groups } satisfies ToWorker);
    });
  }

  /** Closes the session's socket on this thread. */
  end(session: number): void {
    this.#current?.worker.postMessage({ kind: 'end', session } satisfies ToWorker);
  }

  /** Stops the thread; its sockets close with it. */
  async close(): Promise<void> {
    const w = this.#current?.worker;
    this.#current = undefined;
    if (w) await w.terminate();
  }

  #started(): Started {
    if (this.#current) return this.#current;
    const worker = new Worker(new URL('./worker.ts', import.meta.url));
    const pending = new Map<number, Pending>();
    // Only work in flight keeps the process alive.
    worker.unref();
    worker.on('message', (m: FromWorker) => {
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      if (pending.size === 0) worker.unref();
      p.resolve(m.outcomes);
    });
    const died = (message: string) => {
      if (this.#current?.worker === worker) this.#current = undefined;
      const cut = [...pending.values()];
      pending.clear();
      cut.forEach((p, i) => p.resolve(Array.from({ length: p.groups }, () => (i === 0 ? { kind: 'crashed', failures: new Map(), message } : { kind: 'not-run' }))));
    };
    worker.on('error', (err) => died(`the netlink thread failed: ${err.message}`));
    worker.on('exit', (code) => died(`the netlink thread exited with status ${code}`));
    this.#current = { worker, pending };
    return this.#current;
  }
}
