import { Worker } from 'node:worker_threads';
import type { Logger } from '../../sdk/log.ts';
import type { Netns } from '../dataplane/runner.ts';
import type { KernelEvent } from './kernel-event-parse.ts';
import type { NamespaceIds } from './nsid.ts';

/** What the forwarder hears from the kernel; namespaces by key (`<dev>:<ino>`). */
export type KernelNews =
  | { kind: 'link-gone'; ifname: string; alias: string; group: number }
  | { kind: 'netns-gone'; netns: string }
  /** Messages were lost: what is watched must be checked again. */
  | { kind: 'overrun' };

type FromWorker = { kind: 'ready' } | { kind: 'failed'; message: string } | { kind: 'overrun' } | { kind: 'events'; events: KernelEvent[] };

const START_TIMEOUT_MS = 5000;

/**
 * The kernel telling the forwarder, as it happens, that a link of a connection was removed or
 * that a network namespace ended: a netlink listener thread (kernel-events-worker.ts) in the
 * forwarder's namespace hears the namespaces that `watch` gave an id here. Where it cannot start
 * (no FFI on this platform), `start` says why and the forwarder heals from gRPC channels and
 * the registry alone.
 */
export class KernelEvents {
  readonly #log: Logger;
  readonly #listener: (news: KernelNews) => void;
  readonly #keyOf = new Map<number, string>();
  readonly #idOf = new Map<string, number>();
  #ids: NamespaceIds | undefined;
  #worker: Worker | undefined;

  constructor(log: Logger, listener: (news: KernelNews) => void) {
    this.#log = log;
    this.#listener = listener;
  }

  get watching(): number {
    return this.#idOf.size;
  }

  async start(): Promise<void> {
    try {
      const { NamespaceIds } = await import('./nsid.ts');
      this.#ids = new NamespaceIds();
      this.#worker = await this.#startWorker();
    } catch (err) {
      this.#ids?.close();
      this.#ids = undefined;
      this.#log.warn({ reason: (err as Error).message }, 'kernel link events are not available: healing learns of dead pods from gRPC channels and the registry only');
    }
  }

  #startWorker(): Promise<Worker> {
    const worker = new Worker(new URL('./kernel-events-worker.ts', import.meta.url));
    worker.unref();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error('the kernel event thread did not start')), START_TIMEOUT_MS);
      const fail = (err: Error) => {
        clearTimeout(timer);
        void worker.terminate();
        reject(err);
      };
      worker.on('error', (err: Error) => fail(err));
      worker.on('message', (m: FromWorker) => {
        if (m.kind === 'ready') {
          clearTimeout(timer);
          resolve(worker);
        } else if (m.kind === 'failed') fail(new Error(m.message));
        else if (m.kind === 'overrun') this.#listener({ kind: 'overrun' });
        else for (const e of m.events) this.#deliver(e);
      });
    });
  }

  #deliver(e: KernelEvent): void {
    if (e.kind === 'link-gone') return this.#listener(e);
    const key = this.#keyOf.get(e.nsid);
    if (key === undefined) return;
    this.#keyOf.delete(e.nsid);
    if (this.#idOf.get(key) === e.nsid) this.#idOf.delete(key);
    this.#listener({ kind: 'netns-gone', netns: key });
  }

  /**
   * Hears `netns` from now on. Cheap once a namespace is watched; the id it gets here is dropped
   * by the kernel when it ends. `again` asks the kernel even when it is watched (an id may have
   * been reused by another namespace since).
   */
  watch(netns: Netns, again = false): void {
    if (!this.#ids || netns.path === '' || (!again && this.#idOf.has(netns.key))) return;
    try {
      const id = this.#ids.idOf(netns.path);
      this.#idOf.set(netns.key, id);
      this.#keyOf.set(id, netns.key);
    } catch (err) {
      this.#log.debug({ netns: netns.path, err: (err as Error).message }, 'cannot watch a network namespace');
    }
  }

  async stop(): Promise<void> {
    await this.#worker?.terminate();
    this.#worker = undefined;
    this.#ids?.close();
    this.#ids = undefined;
  }
}
