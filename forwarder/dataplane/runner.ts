import { spawn } from 'node:child_process';
import { NsmError } from '../../sdk/errors.ts';
import { ipCommand, IpSession, type BatchSession, type GroupOutcome } from './ip-session.ts';

/** A network namespace by a file that holds it: `/proc/<pid>/ns/net` or `/run/netns/<name>`. */
export interface Netns {
  readonly path: string;
  /** Identity of the namespace (`<dev>:<ino>`), so calls for one namespace share a batch. */
  readonly key: string;
}

/** The forwarder's own (node) namespace. */
export const NODE_NETNS: Netns = { path: '', key: 'node' };

export interface RunOptions {
  /** Commands run once after everything batched with this call (deduplicated), e.g. one bulk delete. */
  finally?: string[];
}

/**
 * All kernel access of the forwarder. `run` executes `ip` batch commands (without the leading
 * `ip`) in a namespace and fails with the first command that failed; `links` lists links as
 * `ip -j -d link show` prints them.
 */
export interface KernelRunner {
  run(netns: Netns, commands: string[], options?: RunOptions): Promise<void>;
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

export class KernelError extends NsmError {
  readonly command: string;
  readonly output: string;
  constructor(command: string, output: string) {
    const code = /File exists/.test(output) ? 'ALREADY_EXISTS' : 'INTERNAL';
    super(code, `kernel refused "ip ${command}": ${output.trim() || 'no message'}`);
    this.command = command;
    this.output = output;
  }
}

function exec(netns: Netns, args: string[], input: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const [cmd, argv] = ipCommand(netns.path, args);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => reject(new NsmError('INTERNAL', `cannot run ${cmd}: ${e.message} (install iproute2 and util-linux)`)));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

/** Splits `ip -force -batch` stderr into the message of each failed line (1-based). */
export function parseBatchErrors(stderr: string): Map<number, string> {
  const failures = new Map<number, string>();
  let message: string[] = [];
  for (const line of stderr.split('\n')) {
    const m = /^Command failed -:(\d+)$/.exec(line.trim());
    if (m) {
      failures.set(Number(m[1]), message.join('; '));
      message = [];
    } else if (line.trim() !== '') message.push(line.trim());
  }
  return failures;
}

interface Part {
  commands: string[];
  finally: string[];
  resolve(): void;
  reject(err: Error): void;
}

/** One namespace: its `ip` process and what waits for it. */
interface Slot {
  netns: Netns;
  session?: BatchSession;
  /** Calls without `finally`, written at the next turn. */
  queue: Part[];
  /** Calls with `finally`: written together with their finals, one such batch at a time. */
  held: Part[];
  writeScheduled: boolean;
  /** Calls written whose outcome is not known yet. */
  running: number;
  finalsRunning: boolean;
  idle?: NodeJS.Timeout;
}

export interface IpBatchRunnerOptions {
  /** How long an idle `ip` process is kept for its namespace (default 2 s); it holds the namespace open. */
  idleMs?: number;
  /** At most this many idle processes are kept; more are ended at once (default 32). */
  maxIdle?: number;
  /** Starts the session for a namespace path (default: an `ip -force -batch -` process). */
  session?: (netnsPath: string) => BatchSession;
}

/**
 * Runs commands through one long-lived `ip -force -batch -` per namespace (see IpSession).
 * Calls are written to the process as they come (those of one event-loop turn in one write) and
 * each caller hears about its own lines as soon as they ran. Calls with `finally` lines are
 * batched instead: one batch at a time per namespace (its calls' lines, then their deduplicated
 * finals), and the calls that arrive meanwhile form the next one, so many Closes share one bulk
 * delete. A call fails with its first failed line. A process that dies fails the call it died
 * in; calls after it go to a new process, since none of their lines ran.
 */
export class IpBatchRunner implements KernelRunner {
  readonly #slots = new Map<string, Slot>();
  readonly #idleMs: number;
  readonly #maxIdle: number;
  readonly #newSession: (netnsPath: string) => BatchSession;
  /** Writes to `ip` processes, and processes started (for tests and benchmarks). */
  writes = 0;
  spawned = 0;

  constructor(options: IpBatchRunnerOptions = {}) {
    this.#idleMs = options.idleMs ?? 2000;
    this.#maxIdle = options.maxIdle ?? 32;
    this.#newSession = options.session ?? ((path) => new IpSession(path));
  }

  run(netns: Netns, commands: string[], options: RunOptions = {}): Promise<void> {
    if (commands.length === 0 && !options.finally?.length) return Promise.resolve();
    const bad = [...commands, ...(options.finally ?? [])].find((c) => /[\n\r]/.test(c) || c.endsWith('\\'));
    if (bad !== undefined) return Promise.reject(new NsmError('INTERNAL', `ip batch command ${JSON.stringify(bad)} spans more than one line`));
    return new Promise<void>((resolve, reject) => {
      let slot = this.#slots.get(netns.key);
      if (!slot) {
        slot = { netns, queue: [], held: [], writeScheduled: false, running: 0, finalsRunning: false };
        this.#slots.set(netns.key, slot);
      }
      const part = { commands, finally: options.finally ?? [], resolve, reject };
      (part.finally.length > 0 ? slot.held : slot.queue).push(part);
      this.#schedule(slot);
    });
  }

  /** Ends every idle process now (the others end once idle). */
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

  #where(slot: Slot): string {
    return slot.netns.path || 'the node namespace';
  }

  #sessionOf(slot: Slot): BatchSession {
    if (!slot.session?.alive) {
      slot.session = this.#newSession(slot.netns.path);
      this.spawned++;
    }
    return slot.session;
  }

  #write(slot: Slot): void {
    slot.writeScheduled = false;
    const plain = slot.queue.splice(0);
    const batch = slot.finalsRunning ? [] : slot.held.splice(0);
    if (plain.length === 0 && batch.length === 0) return this.#settled(slot);
    const finals = [...new Set(batch.flatMap((p) => p.finally))];
    const groups = [...plain.map((p) => p.commands), ...batch.map((p) => p.commands)];
    if (batch.length > 0) groups.push(finals);
    this.writes++;
    const outcomes = this.#sessionOf(slot).send(groups);
    slot.running += plain.length;
    plain.forEach((p, i) => void outcomes[i].then((o) => {
      slot.running--;
      if (o.kind === 'not-run') {
        slot.queue.unshift(p);
        this.#schedule(slot);
      } else {
        this.#finish(p, this.#errorOf(slot, o, p.commands));
        this.#settled(slot);
      }
    }));
    if (batch.length > 0) {
      slot.finalsRunning = true;
      void Promise.all(outcomes.slice(plain.length)).then((os) => this.#batchDone(slot, batch, os, finals));
    }
  }

  /** Settles a batch of calls with finals once its finals group is through. */
  #batchDone(slot: Slot, batch: Part[], outcomes: GroupOutcome[], finals: string[]): void {
    slot.finalsRunning = false;
    const fin = outcomes[batch.length];
    const again: Part[] = [];
    batch.forEach((p, i) => {
      const own = outcomes[i];
      if (own.kind === 'not-run') return void again.push(p);
      const error = this.#errorOf(slot, own, p.commands);
      if (own.kind !== 'done') return this.#finish(p, error);
      // Its lines ran; if the process died before the finals, they go with the next batch.
      if (fin.kind === 'not-run') {
        return void again.push({
          commands: [],
          finally: p.finally,
          resolve: error ? () => p.reject(error) : p.resolve,
          reject: (e) => p.reject(error ?? e),
        });
      }
      const mine = fin.kind === 'unstarted' ? fin : { ...fin, failures: new Map([...fin.failures].filter(([j]) => p.finally.includes(finals[j]))) };
      this.#finish(p, error ?? this.#errorOf(slot, mine, finals));
    });
    slot.held.unshift(...again);
    if (slot.held.length > 0) this.#schedule(slot);
    else this.#settled(slot);
  }

  #finish(p: Part, error: Error | undefined): void {
    if (error) p.reject(error);
    else p.resolve();
  }

  #errorOf(slot: Slot, o: GroupOutcome, lines: string[]): Error | undefined {
    if (o.kind === 'not-run') return undefined;
    if (o.kind === 'unstarted') return new NsmError('INTERNAL', `cannot program ${this.#where(slot)}: ${o.message}`);
    const first = [...o.failures].sort((a, b) => a[0] - b[0])[0];
    if (first) return new KernelError(lines[first[0]], first[1]);
    if (o.kind === 'crashed') return new NsmError('INTERNAL', `the kernel session for ${this.#where(slot)} died running this call: ${o.message}`);
    return undefined;
  }

  #isIdle(slot: Slot): boolean {
    return !slot.writeScheduled && slot.queue.length === 0 && slot.held.length === 0 && slot.running === 0 && !slot.finalsRunning;
  }

  /** Called whenever work ends: an idle namespace keeps its process for a while. */
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
    const r = await exec(netns, ['-j', '-d', 'link', 'show'], '');
    if (r.code !== 0) throw new NsmError('INTERNAL', `ip link show in ${netns.path || 'the node namespace'} failed: ${r.stderr.trim()}`);
    return r.stdout.trim() === '' ? [] : JSON.parse(r.stdout) as LinkInfo[];
  }
}
