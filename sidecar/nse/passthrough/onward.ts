import { Connection, ConnectionContext, type NetworkServiceRequest, type PathSegment } from '../../../proto/api.ts';
import { NsmError, toNsmError } from '../../../sdk/errors.ts';
import type { Logger } from '../../../sdk/log.ts';
import { systemClock } from '../../../sdk/retry.ts';
import { requestOnce, requestWithRetry, type Dialer } from '../../nsc/client.ts';
import type { HealedConnection } from '../../nsc/forwarder-monitor.ts';
import type { HealAction } from '../../nsc/kept-connection.ts';
import type { PodJoin } from './join.ts';

export interface OnwardOptions {
  /** This passthrough's name. */
  me: string;
  /** The onward request's labels: this passthrough's own (NSM_LABELS), which the service's matches route by. */
  labels: Record<string, string>;
  netnsUrl: string;
  dial: Dialer;
  join: PodJoin;
  requestTimeoutMs: number;
  log: Logger;
}

const CLOSE_TIMEOUT_MS = 3000;
/** How long a heal keeps asking for the client's addresses before it takes others. */
const KEEP_ADDRESSES_MS = 10_000;
const KEEP_ADDRESSES_RETRY_MS = 500;

const addressesOf = (conn: Connection | undefined) => (conn?.context?.ipContext?.srcIpAddrs ?? []).join(',');

/** The next hop's refusal, as the client of the chain hears it. */
function fromNextHop(me: string, err: unknown): NsmError {
  const e = toNsmError(err);
  return new NsmError(e.code, `passthrough ${me} could not reach the next function of the chain: ${e.message}`, { cause: e });
}

/**
 * The connection a passthrough requests onward for one incoming connection, as a client of its
 * forwarder: the same network service, this passthrough's labels, the incoming path continued (so
 * every hop of the chain is on one path). Every incoming Request refreshes it; the forwarder's
 * monitor stream heals it on its own (the next hop gone: requested anew for the same incoming
 * connection; the path down: refreshed now); Close of the incoming connection closes it. Requests,
 * heals and Close run one at a time.
 */
export class Onward implements HealedConnection {
  readonly #o: OnwardOptions;
  readonly incomingId: string;
  readonly service: string;
  readonly #stop = new AbortController();
  conn: Connection | undefined;
  /** The incoming path up to and including this passthrough's segment. */
  #prefix: PathSegment[] = [];
  #payload = '';
  #mtu = 0;
  #turn: Promise<unknown> = Promise.resolve();

  constructor(o: OnwardOptions, incoming: Connection) {
    this.#o = o;
    this.incomingId = incoming.id;
    this.service = incoming.networkService;
  }

  #serialised<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#turn.then(work, work);
    this.#turn = run.catch(() => {});
    return run;
  }

  /** Requests, or refreshes, the onward connection for the incoming one as it reached this passthrough; `signal` is the incoming call's. */
  request(incoming: Connection, signal: AbortSignal): Promise<Connection> {
    return this.#serialised(async () => {
      const index = incoming.path?.index ?? 0;
      const segments = incoming.path?.pathSegments ?? [];
      this.#prefix = segments.slice(0, index + 1);
      this.#payload = incoming.payload;
      this.#mtu = incoming.context?.MTU ?? 0;
      // Without an answer of its own (a restarted passthrough), the rest of the incoming path is the onward connection's.
      const tail = this.conn ? undefined : segments.slice(index + 1);
      try {
        return await this.#answered(await requestOnce(this.#o.dial, this.#build(false, tail), this.#o.requestTimeoutMs, AbortSignal.any([this.#stop.signal, signal])));
      } catch (err) {
        throw fromNextHop(this.#o.me, err);
      }
    });
  }

  isCurrent(hopId: string): boolean {
    const after = this.#prefix.length;
    return this.conn?.path?.pathSegments.some((s, i) => i >= after && s.id === hopId) ?? false;
  }

  heal(action: HealAction): void {
    void this.#serialised(async () => {
      if (!this.conn || this.#stop.signal.aborted) return;
      const { log } = this.#o;
      if (action === 'refresh') {
        try {
          await this.#answered(await requestOnce(this.#o.dial, this.#build(false), this.#o.requestTimeoutMs, this.#stop.signal));
          return;
        } catch (err) {
          log.warn({ connId: this.incomingId, err: toNsmError(err).message }, 'refreshing the onward connection failed; requesting the next function anew');
        }
      }
      try {
        const conn = await this.#reselect();
        await this.#answered(conn);
        log.info({ connId: this.incomingId, next: conn.networkServiceEndpointName, hops: this.hops() }, 'healed the onward connection');
      } catch (err) {
        if (!this.#stop.signal.aborted) log.warn({ connId: this.incomingId, err: toNsmError(err).message }, 'the onward connection could not be healed; the incoming one fails its next refresh');
      }
    });
  }

  /**
   * Requests the next function anew, asking for the addresses the client has. An answer with
   * others (the last endpoint may still hold the client's for the broken path until that path is
   * closed) is given back and asked for again, for at most KEEP_ADDRESSES_MS; then it is taken as
   * it is, and the client keeps its stale addresses until it reconnects.
   */
  async #reselect(): Promise<Connection> {
    const { log } = this.#o;
    const had = addressesOf(this.conn);
    const until = Date.now() + KEEP_ADDRESSES_MS;
    for (;;) {
      const conn = await requestWithRetry(this.#o.dial, () => this.#build(true), {
        requestTimeoutMs: this.#o.requestTimeoutMs, deadline: Infinity, signal: this.#stop.signal,
        onFailure: (e, attempt) => log.warn({ connId: this.incomingId, attempt, code: e.code, err: e.message }, 'requesting the next function of the chain anew failed; retrying'),
      });
      const now = addressesOf(conn);
      if (now === had) return conn;
      if (Date.now() > until) {
        log.warn({ connId: this.incomingId, had, now }, 'the healed chain hands out other addresses than the client has; it gets them when it reconnects');
        return conn;
      }
      await this.#closeQuietly(conn);
      await systemClock.sleep(KEEP_ADDRESSES_RETRY_MS, this.#stop.signal);
    }
  }

  async #closeQuietly(conn: Connection): Promise<void> {
    try {
      await (await this.#o.dial.client(CLOSE_TIMEOUT_MS)).close(conn, { timeoutMs: CLOSE_TIMEOUT_MS });
    } catch (err) {
      this.#o.log.warn({ connId: this.incomingId, err: toNsmError(err).message }, 'closing an onward connection failed; the forwarders remove it when it expires');
    }
  }

  /** The names on the onward path after this passthrough. */
  hops(): string[] {
    return (this.conn?.path?.pathSegments ?? []).slice(this.#prefix.length).map((s) => s.name);
  }

  /** Closes the onward connection (once the request or heal in flight is done) and stops healing it. */
  close(): Promise<void> {
    this.#stop.abort();
    return this.#serialised(async () => {
      const conn = this.conn;
      this.conn = undefined;
      if (conn) await this.#closeQuietly(conn);
    });
  }

  async #answered(conn: Connection): Promise<Connection> {
    await this.#o.join.onwardAnswered(this.incomingId, conn);
    this.conn = conn;
    return conn;
  }

  /**
   * The onward Request: a refresh of the last answer, or (`anew`, or before any answer) a first
   * request that lets the service's matches choose the next function; the addresses the last
   * answer carried are asked for again, so a healed chain can keep the client's.
   */
  #build(anew: boolean, tail?: PathSegment[]): NetworkServiceRequest {
    const last = this.conn;
    const index = this.#prefix.length - 1;
    const after = anew ? [] : (tail ?? last?.path?.pathSegments.slice(index + 1) ?? []);
    const context = ConnectionContext.fromPartial({ ...last?.context, MTU: this.#mtu });
    const connection = Connection.fromPartial({
      ...(last && !anew ? last : {}),
      id: this.incomingId,
      networkService: this.service,
      networkServiceEndpointName: anew ? '' : (last?.networkServiceEndpointName ?? ''),
      mechanism: anew ? undefined : last?.mechanism,
      labels: this.#o.labels,
      payload: this.#payload,
      context,
      path: { index, pathSegments: [...this.#prefix, ...after] },
    });
    return { connection, mechanismPreferences: [this.#o.join.onwardMechanism(this.incomingId, this.#o.netnsUrl)] };
  }
}
