// What a starting pod waits for, read from its containers' logs (pino JSON lines and plain
// stderr lines), so `sandbox apply` can say it while it waits and name it when it gives up.

import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { NsmError } from '../sdk/errors.ts';
import { alive, type Proc } from './state.ts';

const POLL_MS = 500;
const SAY_WITHIN_MS = 5000;

function lines(log: string): string[] {
  try {
    return readFileSync(log, 'utf8').split('\n').filter((l) => l.trim() !== '');
  } catch {
    return [];
  }
}

function parsed(line: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The client's last failed request: the service it asked for and the error it got. */
export function lastRequestError(log: string): string | undefined {
  for (const line of lines(log).reverse()) {
    const entry = parsed(line);
    if (entry?.msg === 'request failed; retrying') return `${String(entry.service)}: ${String(entry.err)}`;
  }
  return undefined;
}

/** The last thing a process said before it ended: its last plain line, or its last logged error. */
export function lastWords(log: string): string {
  for (const line of lines(log).reverse()) {
    const entry = parsed(line);
    if (!entry) return line.trim();
    if (typeof entry.err === 'string') return entry.err;
    if (typeof entry.err === 'object' && entry.err !== null && 'message' in entry.err) return String(entry.err.message);
  }
  return 'it left no message';
}

export interface InitRun {
  done: Promise<{ code: number | null; log: string }>;
  stop(): void;
}

/**
 * Waits for an init container to end. Says what it waits for whenever that changes; stops it and
 * fails as soon as a container started earlier in the sandbox has exited (nothing it waits for
 * can come then).
 */
export async function awaitInit(pod: string, container: string, run: InitRun, log: string, started: readonly Proc[], say: (s: string) => void): Promise<{ code: number | null; log: string }> {
  let ended: { code: number | null; log: string } | undefined;
  void run.done.then((r) => (ended = r));
  let shown: string | undefined;
  const report = () => {
    const waiting = lastRequestError(log);
    if (waiting && waiting !== shown) {
      say(`pod/${pod}: init container ${container} waits for ${waiting}`);
      shown = waiting;
    }
  };
  while (!ended) {
    await Promise.race([run.done, sleep(POLL_MS)]);
    if (ended) break;
    report();
    const dead = started.find((p) => !alive(p));
    if (!dead) continue;
    // Give the client a moment to say what it waits for, so the failure can name it.
    const until = Date.now() + SAY_WITHIN_MS;
    while (!shown && !ended && Date.now() < until) {
      await Promise.race([run.done, sleep(POLL_MS / 5)]);
      report();
    }
    run.stop();
    await run.done;
    throw new NsmError('FAILED_PRECONDITION', `pod ${pod} cannot start: container ${dead.container} of pod ${dead.pod} exited: ${lastWords(dead.log)} (log ${dead.log})${shown ? `; ${container} was waiting for ${shown}` : ''}`);
  }
  return ended;
}
