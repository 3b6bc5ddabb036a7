import { Worker } from 'node:worker_threads';
import type { KernelOp } from '../kernel-op.ts';
import type { FromWorker, GroupResult, ToWorker } from './protocol.ts';

interface Pending {
  message: Extract<ToWorker, { kind: 'run' }>;
  resolve(results: GroupResult[]): void;
}

/** One worker and the requests posted to it that it has not answered, oldest first. */
interface Started {
  worker: Worker;
  pending: Map<number, Pending>;
}

/**
 * The thread that talks netlink (worker.ts) for every namespace. One is enough: the kernel
 * serialises these requests on its rtnl lock, so parallel threads would only spin on it. It runs
 * requests in the order they were posted.
 * Should it die, the request it was in fails (`died`: some of it may have run) and the requests
 * after it go to a new thread, since none of them ran. `close` fails every request not answered.
 */
export class NetlinkThread {
  #current?: Started;
  #nextId = 0;

  /** Requests posted and not answered yet. */
  get pending(): number {
    return this.#current?.pending.size ?? 0;
  }

  run(session: number, netns: string, groups: readonly (readonly KernelOp[])[]): Promise<GroupResult[]> {
    const message = { kind: 'run' as const, id: ++this.#nextId, session, netns, groups };
    return new Promise((resolve) => this.#post({ message, resolve }));
  }

  /** Closes the session's socket on this thread. */
  end(session: number): void {
    this.#current?.worker.postMessage({ kind: 'end', session } satisfies ToWorker);
  }

  /** Stops the thread; its sockets close with it. */
  async close(): Promise<void> {
    const s = this.#current;
    this.#current = undefined;
    if (!s) return;
    this.#fail([...s.pending.values()], 'the netlink thread was stopped');
    s.pending.clear();
    await s.worker.terminate();
  }

  #post(p: Pending): void {
    const { worker, pending } = this.#started();
    pending.set(p.message.id, p);
    if (pending.size === 1) worker.ref();
    worker.postMessage(p.message satisfies ToWorker);
  }

  #fail(requests: Pending[], words: string): void {
    for (const p of requests) p.resolve(p.message.groups.map(() => ({ kind: 'died', words })));
  }

  #started(): Started {
    if (this.#current) return this.#current;
    const worker = new Worker(new URL('./worker.ts', import.meta.url));
    const started: Started = { worker, pending: new Map() };
    const { pending } = started;
    // Only work in flight keeps the process alive.
    worker.unref();
    worker.on('message', (m: FromWorker) => {
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      if (pending.size === 0) worker.unref();
      p.resolve(m.results);
    });
    const died = (words: string) => {
      if (this.#current === started) this.#current = undefined;
      const [inFlight, ...after] = [...pending.values()];
      pending.clear();
      if (inFlight) this.#fail([inFlight], words);
      for (const p of after) this.#post(p);
    };
    worker.on('error', (err: Error) => died(`the netlink thread failed: ${err.message}`));
    worker.on('exit', (code) => died(`the netlink thread exited with status ${code}`));
    this.#current = started;
    return started;
  }
}
