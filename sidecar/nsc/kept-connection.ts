import type { Connection, NsUrl } from '../../proto/api.ts';
import { Wakeup } from '../../sdk/retry.ts';

/**
 * What the next attempt on a connection does after an event: `refresh` re-requests the same
 * connection (same endpoint); `reselect` requests the service anew (same id and interface name),
 * without closing the old connection, which the forwarder has closed already.
 */
export type HealAction = 'refresh' | 'reselect';

/**
 * Why a connection is healed: the forwarder closed it (its endpoint is gone), reported its path
 * down, had not adopted it after a restart, or its monitor stream was lost; a refresh was answered
 * NOT_FOUND; or refreshes were refused RESELECT_AFTER times in a row (closed and requested anew).
 */
export type HealCause = 'endpoint-closed' | 'path-down' | 'not-adopted' | 'monitor-lost' | 'endpoint-not-found' | 'refresh-refused';

export const HEAL_CAUSES: readonly HealCause[] = ['endpoint-closed', 'path-down', 'not-adopted', 'monitor-lost', 'endpoint-not-found', 'refresh-refused'];

/** What befalls a kept connection, for its metrics. */
export interface KeptEvents {
  /** A heal started: the first event that broke the connection since it was last answered. */
  healing(cause: HealCause): void;
  /** A Request or refresh of it failed. */
  failed(): void;
  /** The forwarder answered a Request or refresh of it. */
  answered?(conn: Connection): void;
}

const UNOBSERVED: KeptEvents = { healing() {}, failed() {} };

/** Who asked for a connection: the pod's annotation (NSM_NETWORK_SERVICES, then the annotation file) or an application of the pod, through the client API. */
export type Origin = 'annotation' | 'application';

/** One connection `nsm nsc run` keeps alive, and what the events about it asked for. */
export class KeptConnection {
  readonly url: NsUrl;
  /** The connection id: stable per interface name (client.ts, `interfaceConnectionId`). */
  readonly id: string;
  readonly origin: Origin;
  readonly events: KeptEvents;
  conn: Connection | undefined;
  /** The device-pool token the URL claims, if it names a resource. */
  readonly token: string | undefined;
  /** Ends the wait before the next attempt or refresh. */
  readonly wakeup = new Wakeup();
  #pending: HealAction | undefined;
  #attempt: AbortController | undefined;
  #healing = false;

  constructor(url: NsUrl, id: string, conn?: Connection, extra: { token?: string; events?: KeptEvents; origin?: Origin } = {}) {
    this.url = url;
    this.id = id;
    this.origin = extra.origin ?? 'annotation';
    this.conn = conn;
    this.token = extra.token;
    this.events = extra.events ?? UNOBSERVED;
  }

  /** Whether the connection is held: answered by the forwarder, and no reselect waiting. */
  get up(): boolean {
    return this.conn !== undefined && !this.reselecting;
  }

  get service(): string {
    return this.url.service;
  }

  /**
   * Asks the loop to act now; a reselect outweighs a refresh asked for before it, and cuts short
   * the attempt in flight (its answer would be about a connection the forwarder closed).
   */
  heal(action: HealAction, cause: HealCause): void {
    this.broken(cause);
    if (action === 'reselect' || this.#pending === undefined) this.#pending = action;
    if (action === 'reselect') this.#attempt?.abort();
    this.wakeup.wake();
  }

  /**
   * Notes that the connection broke. One heal lasts until the connection is answered again
   * (`answered`): the events meanwhile (a path down, then its refresh refused NOT_FOUND) are
   * steps of that heal, not heals of their own.
   */
  broken(cause: HealCause): void {
    if (this.#healing) return;
    this.#healing = true;
    this.events.healing(cause);
  }

  /** The forwarder answered a Request or refresh of the connection: a heal in progress is over. */
  answered(conn: Connection): void {
    this.conn = conn;
    this.#healing = false;
    this.events.answered?.(conn);
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
