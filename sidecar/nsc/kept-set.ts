import { State, type Connection, type NsUrl } from '../../proto/api.ts';
import { toNsmError } from '../../sdk/errors.ts';
import type { Monitor } from '../../sdk/elements/monitor.ts';
import type { Logger } from '../../sdk/log.ts';
import { firstRequest, removeConnection, type Dialer } from './client.ts';
import { keepAlive } from './keep-alive.ts';
import { KeptConnection, type KeptEvents, type Origin } from './kept-connection.ts';

export interface KeptSetOptions {
  dial: Dialer;
  /** The client name (NSM_NAME). */
  name: string;
  /** NSM_CONNECTIONS_DIR. */
  dir: string;
  requestTimeoutMs: number;
  log: Logger;
  /** Ends every loop (the sidecar is stopping). */
  signal: AbortSignal;
  /** Where every answer and close is published (the client API's MonitorConnections). */
  board: Monitor;
  /** The metrics events of a connection to `service`, if metrics are on. */
  eventsOf?: (service: string) => KeptEvents;
}

interface Member {
  stop: AbortController;
  loop: Promise<void>;
}

export interface Keep {
  conn?: Connection;
  token?: string;
  origin: Origin;
}

/**
 * The connections `nsm nsc run` keeps, which may change while it runs: each has its own keep-alive
 * loop, and leaves the set closed at the forwarder with its connection file removed. `all` is a
 * live array (the forwarder's monitor and the metrics read it as it is at each event).
 */
export class KeptSet {
  readonly all: KeptConnection[] = [];
  readonly #o: KeptSetOptions;
  readonly #members = new Map<KeptConnection, Member>();

  constructor(o: KeptSetOptions) {
    this.#o = o;
  }

  byIfname(ifname: string): KeptConnection | undefined {
    return this.all.find((k) => k.url.ifname === ifname);
  }

  byId(id: string): KeptConnection | undefined {
    return this.all.find((k) => k.id === id);
  }

  /** Starts keeping `url` alive under `id`: adopting `conn` when given, else requesting it. */
  keep(url: NsUrl, id: string, how: Keep): KeptConnection {
    const { board, eventsOf } = this.#o;
    const metrics = eventsOf?.(url.service);
    const events: KeptEvents = {
      healing: (cause) => {
        metrics?.healing(cause);
        board.down(id);
      },
      failed: () => metrics?.failed(),
      answered: (conn) => board.update({ ...conn, state: State.UP }),
    };
    const k = new KeptConnection(url, id, how.conn, { token: how.token, origin: how.origin, events });
    if (how.conn) board.update({ ...how.conn, state: State.UP });
    const stop = new AbortController();
    const { dial, name, dir, requestTimeoutMs, log } = this.#o;
    const loop = keepAlive(k, dial, name, dir, requestTimeoutMs, log, AbortSignal.any([this.#o.signal, stop.signal]));
    this.all.push(k);
    this.#members.set(k, { stop, loop });
    return k;
  }

  /** Stops keeping `k`: ends its loop, closes it at the forwarder and removes its connection file. */
  async drop(k: KeptConnection): Promise<void> {
    const member = this.#members.get(k);
    if (!member) return;
    this.#members.delete(k);
    member.stop.abort();
    await member.loop;
    const at = this.all.indexOf(k);
    if (at >= 0) this.all.splice(at, 1);
    this.#o.board.closing(k.id);
    // A Request cut short by the stop may still have made the connection: it is closed by its id all the same.
    const conn = k.conn ?? firstRequest(k.url, k.id, this.#o.name, k.token).connection!;
    try {
      await (await this.#o.dial.client(this.#o.requestTimeoutMs)).close(conn, { timeoutMs: this.#o.requestTimeoutMs });
      this.#o.log.info({ connId: k.id, service: k.url.service, ifname: k.url.ifname }, 'closed');
    } catch (err) {
      this.#o.log.warn({ connId: k.id, err: toNsmError(err).message }, 'close failed; the forwarder removes the connection when it expires');
    }
    await removeConnection(this.#o.dir, k.url.ifname);
  }

  /** Every connection dropped, at once. */
  async dropAll(): Promise<void> {
    await Promise.all([...this.#members.keys()].map((k) => this.drop(k)));
  }
}
