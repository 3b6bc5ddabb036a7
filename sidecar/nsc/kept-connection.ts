import type { Connection, NsUrl } from '../../proto/api.ts';
import { Wakeup } from '../../sdk/retry.ts';

/**
 * What the next attempt on a connection does after an event: `refresh` re-requests the same
 * connection (same endpoint); `reselect` requests the service anew (same id and interface name),
 * without closing the old connection, which the forwarder has closed already.
 */
export type HealAction = 'refresh' | 'reselect';

/** One connection `nsm nsc run` keeps alive, and what the events about it asked for. */
export class KeptConnection {
  readonly url: NsUrl;
  readonly index: number;
  conn: Connection | undefined;
  /** The device-pool token the URL claims, if it names a resource. */
  readonly token: string | undefined;
  /** Ends the wait before the next attempt or refresh. */
  readonly wakeup = new Wakeup();
  #pending: HealAction | undefined;
  #attempt: AbortController | undefined;

  constructor(url: NsUrl, index: number, conn?: Connection, token?: string) {
    this.url = url;
    this.index = index;
    this.conn = conn;
    this.token = token;
  }

  /**
   * Asks the loop to act now; a reselect outweighs a refresh asked for before it, and cuts short
   * the attempt in flight (its answer would be about a connection the forwarder closed).
   */
  heal(action: HealAction): void {
    if (action === 'reselect' || this.#pending === undefined) this.#pending = action;
    if (action === 'reselect') this.#attempt?.abort();
    this.wakeup.wake();
  }

  /** The signal of the next attempt: aborted with `signal`, or by a reselect asked for meanwhile. */
  attemptSignal(signal: AbortSignal): AbortSignal {
    this.#attempt = new AbortController();
    return AbortSignal.any([signal, this.#attempt.signal]);
  }

  /** Whether a reselect is waiting (an attempt that failed meanwhile was cut short for it). */
  get reselecting(): boolean {
    return this.#pending === 'reselect';
  }

  /** The action asked for since the last call, if any. */
  take(): HealAction | undefined {
    const a = this.#pending;
    this.#pending = undefined;
    return a;
  }

  /** Whether `hopId` (a connection id of a later hop, as a forwarder's stream names it) is on the current connection's path. */
  isCurrent(hopId: string): boolean {
    return this.conn?.path?.pathSegments.some((s, i) => i > 0 && s.id === hopId) ?? false;
  }
}
