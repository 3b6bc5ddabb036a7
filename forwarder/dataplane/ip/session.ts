import { KernelError } from '../kernel-error.ts';
import type { KernelOp } from '../kernel-op.ts';
import type { Backend, KernelSession, Netns } from '../runner.ts';
import { ipBatchLine } from './format.ts';
import { IpProcess, type BatchProcess, type GroupOutcome } from './process.ts';

/** ip's words for a refusal, without its decoration (`RTNETLINK answers: `, `Error: `). */
const kernelWords = (message: string) => message.replace(/^RTNETLINK answers: /, '').replace(/^Error: /, '');

/** The `ip` backend: a long-lived `ip -force -batch -` per namespace (process.ts). */
export class IpBackend implements Backend {
  /** Processes started (for tests and benchmarks). */
  processes = 0;
  readonly #newProcess: (netnsPath: string) => BatchProcess;

  /** `newProcess`: starts the process for a namespace path (tests give one that emulates `ip`). */
  constructor(newProcess: (netnsPath: string) => BatchProcess = (path) => new IpProcess(path)) {
    this.#newProcess = newProcess;
  }

  open(netns: Netns): KernelSession {
    return new IpSession(netns.path, () => {
      this.processes++;
      return this.#newProcess(netns.path);
    });
  }
}

/**
 * One namespace's `ip` process, started when first needed. Each group goes out as its lines
 * (ip/format.ts); a group with a value no batch line may carry fails on its own and is never
 * written. When the process dies, the group it died in fails and the groups after it, none of
 * whose lines ran, go to a new process.
 */
class IpSession implements KernelSession {
  readonly #path: string;
  readonly #start: () => BatchProcess;
  #process?: BatchProcess;

  constructor(path: string, start: () => BatchProcess) {
    this.#path = path;
    this.#start = start;
  }

  run(groups: readonly (readonly KernelOp[])[]): Promise<KernelError | undefined>[] {
    const lines = groups.map((g) => {
      try {
        return g.map(ipBatchLine);
      } catch (err) {
        if (err instanceof KernelError) return err;
        throw err;
      }
    });
    const written = lines.filter((l): l is string[] => Array.isArray(l) && l.length > 0);
    const outcomes = written.length > 0 ? this.#current().send(written) : [];
    let next = 0;
    return groups.map((g, i) => {
      const l = lines[i];
      if (!Array.isArray(l)) return Promise.resolve(l);
      if (l.length === 0) return Promise.resolve(undefined);
      return outcomes[next++].then((o) => this.#settle(g, o));
    });
  }

  #settle(group: readonly KernelOp[], o: GroupOutcome): Promise<KernelError | undefined> | KernelError | undefined {
    if (o.kind === 'not-run') return this.run([group])[0];
    if (o.kind === 'unstarted') return KernelError.unreachable(group[0], this.#path, o.message);
    const first = [...o.failures].sort((a, b) => a[0] - b[0])[0];
    if (first) return KernelError.refused(group[first[0]], this.#path, kernelWords(first[1]));
    return o.kind === 'crashed' ? KernelError.died(group, this.#path, o.message) : undefined;
  }

  #current(): BatchProcess {
    if (!this.#process?.alive) this.#process = this.#start();
    return this.#process;
  }

  end(): void {
    this.#process?.end();
    this.#process = undefined;
  }
}
