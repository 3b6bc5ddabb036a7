import { setTimeout as timer } from 'node:timers/promises';

/** Time as a retry loop sees it; tests pass a virtual one. */
export interface Clock {
  now(): number;
  /** Resolves after `ms`, or at once when `signal` aborts; never rejects. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

const timerClock = (ref: boolean): Clock => ({
  now: () => Date.now(),
  sleep: (ms, signal) => timer(ms, undefined, { signal, ref }).catch(() => {}),
});

export const systemClock = timerClock(true);
/** Its waits do not keep the process alive (for caches that run in the background). */
export const backgroundClock = timerClock(false);

/**
 * Ends a wait early, for an event that makes the next attempt likely to succeed (a channel came
 * back, an endpoint registered). A wake while no wait is in progress is kept for the next wait, so
 * one that arrives while an attempt is out is not lost; each wait a wake ends consumes it.
 */
export class Wakeup {
  #woken = new AbortController();

  wake(): void {
    this.#woken.abort();
  }

  /** Waits `ms` unless woken (now or since the last wait ended) or `signal` aborts. */
  async sleep(ms: number, signal: AbortSignal, clock: Clock = systemClock): Promise<void> {
    const woken = this.#woken.signal;
    if (!woken.aborted) await clock.sleep(ms, AbortSignal.any([signal, woken]));
    if (woken.aborted) this.#woken = new AbortController();
  }
}

/** Exponential backoff: the wait after the first counted failure is floorMs, each further one doubles it, up to capMs. */
export interface Backoff {
  floorMs: number;
  capMs: number;
}

export function backoffMs(b: Backoff, failures: number): number {
  return Math.min(b.floorMs * 2 ** Math.max(0, failures - 1), b.capMs);
}

/**
 * What to do after a failure: `retry` counts it (toward `failures` and a longer wait);
 * `retry-uncounted` retries at the current pace without counting it (the peer was not reached, so it
 * said nothing); `stop` ends the loop with this failure.
 */
export type Verdict = 'retry' | 'retry-uncounted' | 'stop';

export interface Attempt {
  /** 1 for the first attempt. */
  readonly number: number;
  /** Counted failures in a row when this attempt started (since the start or the last reset). */
  readonly failures: number;
  /** Time left before the deadline when this attempt started; Infinity without a deadline. */
  readonly remainingMs: number;
  readonly signal: AbortSignal;
  /** The attempt got somewhere (a stream delivered its state, a reselect starts afresh): failures count from 0 again. */
  reset(): void;
}

export interface Failure {
  readonly error: unknown;
  /** The number of the attempt that failed. */
  readonly attempt: number;
  /** Counted failures in a row, this one included if it counted. */
  readonly failures: number;
  readonly counted: boolean;
  /** The wait before the next attempt; undefined when this failure ends the loop. */
  readonly retryInMs: number | undefined;
}

export interface RetryOptions {
  backoff: Backoff;
  /** Ends the loop: a wait ends at once, no attempt starts, and the attempt in flight sees it on its own signal. */
  signal?: AbortSignal;
  /** Clock time after which no attempt starts. */
  deadline?: number;
  /** An attempt starts only with at least this long left before the deadline; the wait before it is shortened to allow that. */
  attemptMinMs?: number;
  /** Which failures are retried and which end the loop; default: every one is retried and counted. Not asked once the signal aborted. */
  decide?: (error: unknown, attempt: Attempt) => Verdict | Promise<Verdict>;
  /** Sees each failure before the wait that follows it (for logging); not called for a failure after the signal aborted. */
  onFailure?: (failure: Failure) => void;
  /** Ends a wait between attempts early. */
  wakeup?: Wakeup;
  clock?: Clock;
}

/**
 * Runs `attempt` until it succeeds, waiting with backoff between failures. Rejects with the
 * signal's reason once it aborted; otherwise with the failure that ended the loop: one `decide`
 * stopped at, or the last one when the deadline leaves no time for another attempt.
 */
export async function retry<T>(attempt: (a: Attempt) => Promise<T>, o: RetryOptions): Promise<T> {
  const clock = o.clock ?? systemClock;
  const signal = o.signal ?? new AbortController().signal;
  const deadline = o.deadline ?? Infinity;
  let failures = 0;
  const reset = () => {
    failures = 0;
  };
  for (let number = 1; ; number++) {
    signal.throwIfAborted();
    const a: Attempt = { number, failures, remainingMs: deadline - clock.now(), signal, reset };
    try {
      return await attempt(a);
    } catch (error) {
      signal.throwIfAborted();
      const verdict = await (o.decide?.(error, a) ?? 'retry');
      signal.throwIfAborted();
      if (verdict === 'retry') failures++;
      const room = deadline - clock.now() - (o.attemptMinMs ?? 0);
      const retryInMs = verdict === 'stop' || room <= 0 ? undefined : Math.min(backoffMs(o.backoff, failures), room);
      o.onFailure?.({ error, attempt: number, failures, counted: verdict === 'retry', retryInMs });
      if (retryInMs === undefined) throw error;
      await (o.wakeup ? o.wakeup.sleep(retryInMs, signal, clock) : clock.sleep(retryInMs, signal));
    }
  }
}
