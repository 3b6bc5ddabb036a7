import { spawn } from 'node:child_process';
import { NsmError } from '../../sdk/errors.ts';

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
  links(netns: Netns, filter?: string[]): Promise<LinkInfo[]>;
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

function ipArgs(netns: Netns, args: string[]): [string, string[]] {
  return netns.path === '' ? ['ip', args] : ['nsenter', [`--net=${netns.path}`, 'ip', ...args]];
}

function exec(netns: Netns, args: string[], input: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const [cmd, argv] = ipArgs(netns, args);
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

/**
 * Runs `ip -force -batch -`, one process per namespace at a time: calls for a namespace that
 * arrive while its previous batch runs are collected into the next one. Each caller hears only
 * about its own commands (and the `finally` lines it asked for).
 */
export class IpBatchRunner implements KernelRunner {
  readonly #pending = new Map<string, { netns: Netns; parts: Part[] }>();
  readonly #busy = new Set<string>();
  batches = 0;

  run(netns: Netns, commands: string[], options: RunOptions = {}): Promise<void> {
    if (commands.length === 0 && !options.finally?.length) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let batch = this.#pending.get(netns.key);
      if (!batch) {
        batch = { netns, parts: [] };
        this.#pending.set(netns.key, batch);
        if (!this.#busy.has(netns.key)) setImmediate(() => void this.#flush(netns.key));
      }
      batch.parts.push({ commands, finally: options.finally ?? [], resolve, reject });
    });
  }

  async #flush(key: string): Promise<void> {
    const batch = this.#pending.get(key);
    if (!batch) return;
    this.#pending.delete(key);
    this.#busy.add(key);
    try {
      await this.#execute(batch.netns, batch.parts);
    } finally {
      this.#busy.delete(key);
      if (this.#pending.has(key)) void this.#flush(key);
    }
  }

  async #execute(netns: Netns, parts: Part[]): Promise<void> {
    this.batches++;
    const lines: string[] = [];
    const owners: Part[][] = [];
    for (const p of parts) for (const c of p.commands) {
      lines.push(c);
      owners.push([p]);
    }
    const finals = new Map<string, Part[]>();
    for (const p of parts) for (const f of p.finally) finals.set(f, [...(finals.get(f) ?? []), p]);
    for (const [f, ps] of finals) {
      lines.push(f);
      owners.push(ps);
    }
    let result: { code: number; stderr: string };
    try {
      result = await exec(netns, ['-force', '-batch', '-'], `${lines.join('\n')}\n`);
    } catch (err) {
      for (const p of parts) p.reject(err as Error);
      return;
    }
    const failed = new Map<Part, KernelError>();
    const errors = parseBatchErrors(result.stderr);
    for (const [line, message] of errors) {
      for (const p of owners[line - 1] ?? []) if (!failed.has(p)) failed.set(p, new KernelError(lines[line - 1], message));
    }
    if (result.code !== 0 && errors.size === 0) {
      const e = new NsmError('INTERNAL', `ip -batch in ${netns.path || 'the node namespace'} failed: ${result.stderr.trim()}`);
      for (const p of parts) failed.set(p, e as KernelError);
    }
    for (const p of parts) {
      const e = failed.get(p);
      if (e) p.reject(e);
      else p.resolve();
    }
  }

  async links(netns: Netns, filter: string[] = []): Promise<LinkInfo[]> {
    const r = await exec(netns, ['-j', '-d', 'link', 'show', ...filter], '');
    if (r.code !== 0) throw new NsmError('INTERNAL', `ip link show in ${netns.path || 'the node namespace'} failed: ${r.stderr.trim()}`);
    return r.stdout.trim() === '' ? [] : JSON.parse(r.stdout) as LinkInfo[];
  }
}
