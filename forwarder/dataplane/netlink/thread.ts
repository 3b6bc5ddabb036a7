import { Worker } from 'node:worker_threads';
import type { LinkOp } from './ip-lines.ts';
import type { FromWorker, ToWorker, WorkerOutcome } from './protocol.ts';

interface Pending {
  resolve(outcomes: WorkerOutcome[]): void;
  groups: number;
}

/**
 * The thread that talks netlink (worker.ts) for every namespace. One is enough: the kernel
 * serialises these requests on its rtnl lock, so parallel threads would only spin on it. It runs
 * requests in the order they were posted.
 * Should it die, the request it was in is `crashed` (some of it may have run) and the later ones
 * `not-run`; the next request starts a new thread.
 */
export class NetlinkThread {
  #worker?: Worker;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;

  get pending(): number {
    return this.#pending.size;
  }

  run(session: number, netns: string, groups: LinkOp[][]): Promise<WorkerOutcome[]> {
    const id = ++this.#nextId;
    const w = this.#started();
    return new Promise((resolve) => {
      this.#pending.set(id, { resolve, groups: groups.length });
      if (this.#pending.size === 1) w.ref();
      w.postMessage({ kind: 'run', id, session, netns, groups } satisfies ToWorker);
    });
  }

  /** Closes the session's socket on this thread. */
  end(session: number): void {
    this.#worker?.postMessage({ kind: 'end', session } satisfies ToWorker);
  }

  /** Stops the thread; its sockets close with it. */
  async close(): Promise<void> {
    const w = this.#worker;
    this.#worker = undefined;
    if (w) await w.terminate();
  }

  #started(): Worker {
    if (this.#worker) return this.#worker;
    const w = new Worker(new URL('./worker.ts', import.meta.url));
    // Only work in flight keeps the process alive.
    w.unref();
    w.on('message', (m: FromWorker) => {
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      if (this.#pending.size === 0) w.unref();
      p.resolve(m.outcomes);
    });
    const died = (message: string) => {
      if (this.#worker === w) this.#worker = undefined;
      const pending = [...this.#pending.values()];
      this.#pending.clear();
      pending.forEach((p, i) => p.resolve(Array.from({ length: p.groups }, () => (i === 0 ? { kind: 'crashed', failures: [], message } : { kind: 'not-run' }))));
    };
    w.on('error', (err) => died(`the netlink thread failed: ${err.message}`));
    w.on('exit', (code) => died(`the netlink thread exited with status ${code}`));
    this.#worker = w;
    return w;
  }
}
