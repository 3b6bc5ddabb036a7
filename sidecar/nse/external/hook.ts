import { spawn } from 'node:child_process';
import { NsmError } from '../../../sdk/errors.ts';
import type { Logger } from '../../../sdk/log.ts';

export type HookAction = 'apply' | 'delete';

/** How long stderr may still arrive after the hook exited (a child it left may hold it open). */
const STDERR_GRACE_MS = 200;
const STDERR_KEPT = 4096;

const lastLine = (text: string) => text.split('\n').map((l) => l.trim()).filter(Boolean).at(-1) ?? '';

/**
 * The executable that configures the device, run as `<path> apply|delete` with the connection as
 * JSON on stdin. Each run is bounded: past `timeoutMs`, or when `signal` aborts, the hook and
 * every process it started (it runs in a process group of its own) are killed with SIGKILL.
 */
export class Hook {
  readonly path: string;
  readonly timeoutMs: number;
  readonly #log: Logger;

  constructor(path: string, timeoutMs: number, log: Logger) {
    this.path = path;
    this.timeoutMs = timeoutMs;
    this.#log = log;
  }

  /** Resolves when the hook exits 0; otherwise rejects quoting the last line it wrote to stderr. */
  run(action: HookAction, input: string, signal?: AbortSignal): Promise<void> {
    const shown = `hook ${this.path} ${action}`;
    return new Promise<void>((resolve, reject) => {
      let stderr = '';
      let stopped: NsmError | undefined;
      const child = spawn(this.path, [action], { stdio: ['pipe', 'ignore', 'pipe'], detached: true });
      const killGroup = () => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // Already gone.
        }
      };
      const timer = setTimeout(() => {
        stopped = new NsmError('DEADLINE_EXCEEDED', `${shown} ran past ${this.timeoutMs / 1000}s (NSM_REQUEST_TIMEOUT) and was killed`);
        killGroup();
      }, this.timeoutMs);
      const onAbort = () => {
        stopped = new NsmError('CANCELLED', `${shown} was killed: the request it served was given up (${String((signal?.reason as Error)?.message ?? signal?.reason)})`);
        killGroup();
      };
      if (signal?.aborted) onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      let finished = false;
      const finish = (err?: NsmError) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (!err) {
          this.#log.debug({ hook: this.path, action, stderr: lastLine(stderr) }, 'hook done');
          resolve();
          return;
        }
        this.#log.warn({ hook: this.path, action, err: err.message }, 'hook failed');
        reject(err);
      };
      child.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-STDERR_KEPT)));
      child.stdin.on('error', () => {}); // a hook that does not read its input closes the pipe early
      child.once('error', (err: NodeJS.ErrnoException) => {
        finish(new NsmError('FAILED_PRECONDITION', `${shown} could not be started (${err.code ?? err.message}): NSM_EXTERNAL_HOOK must name an executable file`));
      });
      child.once('exit', (code, sig) => {
        const settle = () => {
          const said = lastLine(stderr);
          const quoted = said ? `: ${said}` : ' (it wrote nothing to stderr)';
          if (stopped) finish(new NsmError(stopped.code, `${stopped.message}${said ? `; its last words: ${said}` : ''}`));
          else if (code === 0) finish();
          else finish(new NsmError('FAILED_PRECONDITION', `${shown} ${code !== null ? `exited with ${code}` : `was killed by ${sig}`}${quoted}`));
        };
        if (child.stderr.readableEnded) settle();
        else {
          const grace = setTimeout(settle, STDERR_GRACE_MS);
          child.stderr.once('end', () => {
            clearTimeout(grace);
            settle();
          });
        }
      });
      child.stdin.end(input);
    });
  }
}
