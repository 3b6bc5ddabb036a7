import type { ChildProcess } from 'node:child_process';
import { cannotRun, spawnIp } from '../../../sdk/ip-command.ts';

/**
 * A long-lived `ip -force -batch -` in one namespace, fed through stdin.
 *
 * Attribution: `ip` numbers the lines it reads and, with `-force`, reports each failed line on
 * stderr as `<message>` then `Command failed -:<line>`, and goes on. Stderr is unbuffered and
 * the lines run in order, so after every group of lines we write a marker line that always fails
 * (an object `ip` does not know); when its `Command failed` arrives, every line of the group has
 * run and the failures in between belong to that group. The first line of a session is a marker
 * too, so a process that never ran a command (say `nsenter` could not enter the namespace) is
 * told apart from one that died on a command.
 *
 * When the process dies (some errors make `ip` exit, e.g. a `netns` file that does not exist), the
 * group whose marker never came is `crashed` (its lines before the fatal one ran) and the groups
 * after it are `not-run`: `ip` reads and runs lines strictly in order, so none of their lines ran
 * and they may be sent again. These outcomes stay inside the `ip` backend (session.ts).
 */
export type GroupOutcome =
  | { kind: 'done'; failures: Map<number, string> }
  | { kind: 'crashed'; failures: Map<number, string>; message: string }
  | { kind: 'not-run' }
  | { kind: 'unstarted'; message: string };

/** A line `ip` rejects without touching the kernel: the end of a group. */
export const MARKER = 'nsm-group-end';

interface OpenGroup {
  /** Line number of the group's first line. */
  first: number;
  marker: number;
  failures: Map<number, string>;
  settle(o: GroupOutcome): void;
}

/** The line bookkeeping of one session, apart from the process so it can be tested alone. */
export class BatchLedger {
  #lines = 0;
  #started = false;
  #ended = false;
  readonly #startMarker: number;
  readonly #open: OpenGroup[] = [];
  #message: string[] = [];
  #carry = '';

  /** The text to write first: the start marker. */
  readonly preamble: string;

  constructor() {
    this.#startMarker = ++this.#lines;
    this.preamble = `${MARKER}\n`;
  }

  get outstanding(): number {
    return this.#open.length;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Adds a group: returns the text to write (the lines, then a marker) and its outcome. Failures
   * are keyed by the 0-based index of the line within the group.
   */
  add(lines: readonly string[]): { text: string; outcome: Promise<GroupOutcome> } {
    for (const l of lines) {
      if (/[\n\r]/.test(l) || l.endsWith('\\')) throw new Error(`ip batch line ${JSON.stringify(l)} would not stay one line`);
    }
    if (this.#ended) return { text: '', outcome: Promise.resolve({ kind: 'not-run' }) };
    const first = this.#lines + 1;
    this.#lines += lines.length + 1;
    let settle!: (o: GroupOutcome) => void;
    const outcome = new Promise<GroupOutcome>((r) => (settle = r));
    this.#open.push({ first, marker: this.#lines, failures: new Map(), settle });
    return { text: lines.length === 0 ? `${MARKER}\n` : `${lines.join('\n')}\n${MARKER}\n`, outcome };
  }

  /** Feeds stderr as it arrives (chunks may split lines). */
  stderr(chunk: string): void {
    const parts = (this.#carry + chunk).split('\n');
    this.#carry = parts.pop() ?? '';
    for (const line of parts) this.#line(line.trim());
  }

  #line(line: string): void {
    const m = /^Command failed -:(\d+)$/.exec(line);
    if (!m) {
      if (line !== '') this.#message.push(line);
      return;
    }
    const n = Number(m[1]);
    const message = this.#message.join('; ');
    this.#message = [];
    if (n === this.#startMarker) {
      this.#started = true;
      return;
    }
    const g = this.#open[0];
    if (!g || n < g.first) return; // not ours (cannot happen with a well-behaved ip)
    if (n === g.marker) {
      this.#open.shift();
      g.settle({ kind: 'done', failures: g.failures });
    } else if (n < g.marker) {
      g.failures.set(n - g.first, message);
    }
  }

  /** The process is gone: settles every open group. `detail` says how it ended. */
  end(detail: string): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#carry.trim() !== '') this.#message.push(this.#carry.trim());
    this.#carry = '';
    const message = [...this.#message, detail].filter((s) => s !== '').join('; ');
    const open = this.#open.splice(0);
    if (!this.#started) {
      for (const g of open) g.settle({ kind: 'unstarted', message });
      return;
    }
    open.forEach((g, i) => g.settle(i === 0 ? { kind: 'crashed', failures: g.failures, message } : { kind: 'not-run' }));
  }
}

/** What the `ip` backend needs of a process (tests give one that emulates `ip`). */
export interface BatchProcess {
  readonly alive: boolean;
  send(groups: readonly (readonly string[])[]): Promise<GroupOutcome>[];
  end(): void;
}

/** One `ip -force -batch -` process in a namespace (`''` = this process's own). */
export class IpProcess implements BatchProcess {
  readonly #ledger = new BatchLedger();
  readonly #child: ChildProcess;
  readonly closed: Promise<void>;

  constructor(netnsPath: string) {
    const child = spawnIp(['-force', '-batch', '-'], { netns: netnsPath, stdio: ['pipe', 'ignore', 'pipe'] });
    this.#child = child;
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => this.#ledger.stderr(s));
    child.stdin!.on('error', () => {}); // a dead process shows up as 'close'
    this.closed = new Promise((resolve) => {
      child.on('error', (e) => {
        this.#ledger.end(cannotRun(netnsPath, e));
        resolve();
      });
      child.on('close', (code, signal) => {
        this.#ledger.end(signal ? `ip was killed by ${signal}` : `ip exited with status ${code}`);
        resolve();
      });
    });
    child.stdin!.write(this.#ledger.preamble);
  }

  /** Whether new groups can still be sent. */
  get alive(): boolean {
    return !this.#ledger.ended && this.#child.stdin!.writable;
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Writes the groups in order, in one write; each promise tells how its group went. */
  send(groups: readonly (readonly string[])[]): Promise<GroupOutcome>[] {
    const added = groups.map((g) => this.#ledger.add(g));
    const text = added.map((a) => a.text).join('');
    if (text !== '') this.#child.stdin!.write(text);
    return added.map((a) => a.outcome);
  }

  /** Groups written whose outcome is not known yet. */
  get outstanding(): number {
    return this.#ledger.outstanding;
  }

  /** Ends stdin: `ip` finishes what it read and exits. */
  end(): void {
    this.#child.stdin!.end();
  }
}
