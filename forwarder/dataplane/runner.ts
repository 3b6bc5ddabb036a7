import { ipJson } from '../../sdk/ip-command.ts';
import { NsmError } from '../../sdk/errors.ts';
import type { KernelError } from './kernel-error.ts';
import type { KernelOp } from './kernel-op.ts';
import { checkOp } from './ops.ts';

/** A network namespace by a file that holds it: `/proc/<pid>/ns/net` or `/run/netns/<name>`. */
export interface Netns {
  readonly path: string;
  /** Identity of the namespace (`<dev>:<ino>`), so calls for one namespace share a batch. */
  readonly key: string;
}

/** The forwarder's own (node) namespace. */
export const NODE_NETNS: Netns = { path: '', key: 'node' };

export interface RunOptions {
  /** Ops run once after everything batched with this call (deduplicated), e.g. one bulk delete. */
  finally?: readonly KernelOp[];
}

/**
 * All kernel access of the forwarder: `run` carries out typed ops (kernel-op.ts) in a namespace;
 * `links` lists its links as `ip -j -d link show` prints them.
 *
 * Guarantees of `run`:
 * - It succeeds, or fails with a KernelError (kernel-error.ts), nothing else.
 * - Every op is checked first (ops.ts): a call with an op that breaks a rule fails whole with
 *   INVALID_ARGUMENT naming the op and the field, and none of its ops runs.
 * - The ops of a call run in order, each even after an earlier one was refused (as `ip -force`
 *   does); the call fails with the first refusal, in the kernel's words, naming the op and the
 *   namespace. Callers order their ops so that what follows a refused op touches nothing else.
 * - A call hears only about its own ops: another call's failure, or hostile input, never fails
 *   it or the session it shares. Should the session to the kernel die running a call, that call
 *   fails (INTERNAL) and the calls after it run on a new session.
 * - The ops of `finally` run after the call's own, once for all the calls batched with it.
 */
export interface KernelRunner {
  run(netns: Netns, ops: readonly KernelOp[], options?: RunOptions): Promise<void>;
  links(netns: Netns): Promise<LinkInfo[]>;
}

export interface LinkInfo {
  ifindex: number;
  ifname: string;
  ifalias?: string;
  group?: string | number;
  flags?: string[];
  mtu?: number;
}

/**
 * One namespace's connection to the kernel. `run` carries out each group's ops in order and the
 * groups in order, and settles each group as soon as it ran: with the KernelError of its first
 * refused op, or undefined.
 */
export interface KernelSession {
  run(groups: readonly (readonly KernelOp[])[]): Promise<KernelError | undefined>[];
  /** Releases what the session holds (a process, a socket); a later `run` is not allowed. */
  end(): void;
}

/** Carries ops to the kernel: netlink (netlink/), or `ip` processes (ip/). */
export interface Backend {
  open(netns: Netns): KernelSession;
}

interface Call {
  ops: readonly KernelOp[];
  finally: readonly KernelOp[];
  resolve(): void;
  reject(err: Error): void;
}

/** One namespace: its session and the calls waiting for it. */
interface Slot {
  netns: Netns;
  session?: KernelSession;
  /** Calls without `finally`, written at the next turn. */
  queue: Call[];
  /** Calls with `finally`: written with their finals, one such batch at a time. */
  held: Call[];
  writeScheduled: boolean;
  /** Calls written and not settled yet. */
  running: number;
  finalsRunning: boolean;
  idle?: NodeJS.Timeout;
}

export interface BatchRunnerOptions {
  backend: Backend;
  /** How long an idle session is kept for its namespace (default 2 s); it holds the namespace open. */
  idleMs?: number;
  /** At most this many idle sessions are kept; more are ended at once (default 32). */
  maxIdle?: number;
}

const opKey = (op: KernelOp) => JSON.stringify(op);

/**
 * The KernelRunner over a backend: one session per namespace, kept while in use. Calls are
 * written as they come (those of one event-loop turn in one write) and each caller hears about
 * its own ops as soon as they ran. Calls with `finally` are batched instead: one batch at a time
 * per namespace (their ops, then their deduplicated finals, each final a group of its own), and
 * the calls that arrive meanwhile form the next one, so many Closes share one bulk delete.
 */
export class BatchRunner implements KernelRunner {
  readonly #slots = new Map<string, Slot>();
  readonly #backend: Backend;
  readonly #idleMs: number;
  readonly #maxIdle: number;
  /** Writes to sessions, and sessions opened (for tests and benchmarks). */
  writes = 0;
  sessions = 0;

  constructor(options: BatchRunnerOptions) {
    this.#backend = options.backend;
    this.#idleMs = options.idleMs ?? 2000;
    this.#maxIdle = options.maxIdle ?? 32;
  }

  run(netns: Netns, ops: readonly KernelOp[], options: RunOptions = {}): Promise<void> {
    const finals = options.finally ?? [];
    try {
      for (const op of [...ops, ...finals]) checkOp(op);
    } catch (err) {
      return Promise.reject(err);
    }
    if (ops.length === 0 && finals.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let slot = this.#slots.get(netns.key);
      if (!slot) {
        slot = { netns, queue: [], held: [], writeScheduled: false, running: 0, finalsRunning: false };
        this.#slots.set(netns.key, slot);
      }
      (finals.length > 0 ? slot.held : slot.queue).push({ ops, finally: finals, resolve, reject });
      this.#schedule(slot);
    });
  }

  /** Ends every idle session now (the others end once idle). */
  close(): void {
    for (const slot of [...this.#slots.values()]) if (this.#isIdle(slot)) this.#retire(slot);
  }

  #schedule(slot: Slot): void {
    clearTimeout(slot.idle);
    slot.idle = undefined;
    if (slot.writeScheduled) return;
    slot.writeScheduled = true;
    setImmediate(() => this.#write(slot));
  }

  #sessionOf(slot: Slot): KernelSession {
    if (!slot.session) {
      slot.session = this.#backend.open(slot.netns);
      this.sessions++;
    }
    return slot.session;
  }

  #write(slot: Slot): void {
    slot.writeScheduled = false;
    const plain = slot.queue.splice(0);
    const batch = slot.finalsRunning ? [] : slot.held.splice(0);
    if (plain.length === 0 && batch.length === 0) return this.#settled(slot);
    const finals = [...new Map(batch.flatMap((c) => c.finally).map((op) => [opKey(op), op])).values()];
    const groups = [...plain.map((c) => c.ops), ...batch.map((c) => c.ops), ...finals.map((op) => [op])];
    // A call of finals alone has nothing of its own to run.
    const written = groups.filter((g) => g.length > 0);
    this.writes++;
    const ran = this.#sessionOf(slot).run(written);
    let next = 0;
    const results = groups.map((g) => (g.length > 0 ? ran[next++] : Promise.resolve(undefined)));
    slot.running += plain.length;
    plain.forEach((c, i) => void results[i].then((err) => {
      slot.running--;
      this.#finish(c, err);
      this.#settled(slot);
    }));
    if (batch.length === 0) return;
    slot.finalsRunning = true;
    void Promise.all(results.slice(plain.length)).then((errs) => {
      slot.finalsRunning = false;
      const finalError = new Map(finals.map((op, i) => [opKey(op), errs[batch.length + i]]));
      batch.forEach((c, i) => this.#finish(c, errs[i] ?? c.finally.map((op) => finalError.get(opKey(op))).find((e) => e !== undefined)));
      if (slot.held.length > 0) this.#schedule(slot);
      else this.#settled(slot);
    });
  }

  #finish(c: Call, error: KernelError | undefined): void {
    if (error) c.reject(error);
    else c.resolve();
  }

  #isIdle(slot: Slot): boolean {
    return !slot.writeScheduled && slot.queue.length === 0 && slot.held.length === 0 && slot.running === 0 && !slot.finalsRunning;
  }

  /** Called whenever work ends: an idle namespace keeps its session for a while. */
  #settled(slot: Slot): void {
    if (!this.#isIdle(slot) || slot.idle) return;
    const idle = [...this.#slots.values()].filter((s) => s.session && this.#isIdle(s)).length;
    if (idle > this.#maxIdle) return this.#retire(slot);
    slot.idle = setTimeout(() => this.#retire(slot), this.#idleMs);
    slot.idle.unref();
  }

  #retire(slot: Slot): void {
    clearTimeout(slot.idle);
    slot.idle = undefined;
    slot.session?.end();
    slot.session = undefined;
    if (this.#slots.get(slot.netns.key) === slot) this.#slots.delete(slot.netns.key);
  }

  async links(netns: Netns): Promise<LinkInfo[]> {
    try {
      return (await ipJson(['-d', 'link', 'show'], { netns: netns.path })) as LinkInfo[];
    } catch (err) {
      throw new NsmError('INTERNAL', `cannot list the links of ${netns.path || 'the node namespace'}: ${(err as Error).message}`, { cause: err });
    }
  }
}
