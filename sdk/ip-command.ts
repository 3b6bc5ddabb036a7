import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { NsmError } from './errors.ts';

/**
 * The one way the project runs iproute2's `ip`: every value is its own argument (no shell, no
 * line for `ip` to split), in this process's network namespace or, through `nsenter`, in the one
 * a file holds (`/proc/<pid>/ns/net`, `/run/netns/<name>`).
 */

/** Pids of the `ip` processes running now, so namespace lookup does not mistake them for pods. */
export const helperPids = new Set<number>();

const DEFAULT_TIMEOUT_MS = 10_000;
const MISSING = '(install iproute2 and util-linux)';

export interface IpOptions {
  /** A file holding the namespace to run in; `''` or none = this process's own. */
  netns?: string;
  /** Written to stdin (which is closed after it). */
  input?: string;
  /** The process is killed after this long (default 10 s). */
  timeoutMs?: number;
}

export interface IpResult {
  ok: boolean;
  status: number | null;
  stdout: string;
  stderr: string;
}

/** `ip` refused: its own words are in `stderr`. */
export class IpError extends NsmError {
  readonly args: readonly string[];
  readonly stderr: string;
  constructor(args: readonly string[], r: IpResult) {
    super('INTERNAL', `ip ${args.join(' ')}: ${r.stderr.trim() || `exited with status ${r.status}`}`);
    this.args = args;
    this.stderr = r.stderr;
  }
}

function command(args: readonly string[], netns = ''): [string, string[]] {
  return netns === '' ? ['ip', [...args]] : ['nsenter', [`--net=${netns}`, 'ip', ...args]];
}

/** Starts `ip <args>`; its pid is in helperPids while it runs. */
export function spawnIp(args: readonly string[], o: { netns?: string; stdio?: StdioOptions } = {}): ChildProcess {
  const [cmd, argv] = command(args, o.netns);
  const child = spawn(cmd, argv, { stdio: o.stdio ?? 'pipe' });
  const pid = child.pid;
  if (pid !== undefined) {
    helperPids.add(pid);
    child.once('exit', () => helperPids.delete(pid));
  }
  return child;
}

/** The words for a process that could not be started at all. */
export function cannotRun(netns: string | undefined, err: Error): string {
  return `cannot run ${command([], netns)[0]}: ${err.message} ${MISSING}`;
}

/** Runs `ip <args>` to the end; resolves with what it printed, whatever its status. */
export function runIp(args: readonly string[], o: IpOptions = {}): Promise<IpResult> {
  return new Promise((resolve, reject) => {
    const child = spawnIp(args, { netns: o.netns });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new NsmError('INTERNAL', cannotRun(o.netns, e)));
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString();
      resolve({ ok: status === 0, status, stdout, stderr: Buffer.concat(err).toString() });
    });
    child.stdin!.on('error', () => {}); // a process that exits early shows up as 'close'
    child.stdin!.end(o.input ?? '');
  });
}

/** As runIp, blocking (for command-line tools; the forwarder never blocks on `ip`). */
export function runIpSync(args: readonly string[], o: IpOptions = {}): IpResult {
  const [cmd, argv] = command(args, o.netns);
  const r = spawnSync(cmd, argv, { input: o.input, encoding: 'utf8', timeout: o.timeoutMs ?? DEFAULT_TIMEOUT_MS });
  if (r.error && r.status === null && r.signal === null) return { ok: false, status: null, stdout: '', stderr: cannotRun(o.netns, r.error) };
  return { ok: r.status === 0, status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** `ip <args>` that must succeed: its stdout, or an IpError carrying ip's words. */
export async function ip(args: readonly string[], o: IpOptions = {}): Promise<string> {
  const r = await runIp(args, o);
  if (!r.ok) throw new IpError(args, r);
  return r.stdout;
}

/** `ip -j <args>`, parsed. */
export async function ipJson(args: readonly string[], o: IpOptions = {}): Promise<unknown> {
  const out = await ip(['-j', ...args], o);
  return out.trim() === '' ? [] : JSON.parse(out);
}
