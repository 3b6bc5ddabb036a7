import type { Connection, NetworkServiceEndpoint } from '../../proto/api.ts';
import type { EventFactory } from '../../sdk/chain/begin.ts';

/** What tells whether a connection's far side is still there. Namespaces by key (`<dev>:<ino>`). */
export interface Target {
  endpoint: NetworkServiceEndpoint;
  /** The client's namespace, when the client is a pod of this node. */
  clientNetns?: string;
  /** The endpoint's namespace, when the endpoint is a pod of this node. */
  endpointNetns?: string;
  /** The peer forwarder's URL, when the endpoint is on another node. */
  peer?: string;
}

/** A live connection as the healer keeps it, by this hop's connection id. */
export interface Watched extends Target {
  readonly id: string;
  /** The last answer, as the heal element saw it. */
  conn: Connection;
  /** Starts events on this connection from outside a call (begin). */
  events: EventFactory;
  /** The data path broke while both ends live; the next Request builds it again. */
  broken?: string;
  /** The channel to the far side was lost while both ends live (a process restarting): Requests check it first. */
  down?: string;
  /** A Close was started: events about it change nothing more. */
  closing?: boolean;
}

class Index {
  readonly #ids = new Map<string, Set<string>>();

  add(key: string | undefined, id: string): void {
    if (key === undefined) return;
    let set = this.#ids.get(key);
    if (!set) this.#ids.set(key, (set = new Set()));
    set.add(id);
  }

  remove(key: string | undefined, id: string): void {
    const set = key === undefined ? undefined : this.#ids.get(key);
    if (!set) return;
    set.delete(id);
    if (set.size === 0) this.#ids.delete(key!);
  }

  ids(key: string): string[] {
    return [...(this.#ids.get(key) ?? [])];
  }

  get size(): number {
    return this.#ids.size;
  }
}

/** The watched connections, found by id, by namespace, by endpoint, by local endpoint URL and by peer. */
export class WatchedConnections {
  readonly #byId = new Map<string, Watched>();
  readonly #byNetns = new Index();
  readonly #byEndpoint = new Index();
  readonly #byLocalUrl = new Index();
  readonly #byPeer = new Index();

  get size(): number {
    return this.#byId.size;
  }

  /** Entries of the indexes (each must be 0 when no connection is watched). */
  get indexed(): number {
    return this.#byNetns.size + this.#byEndpoint.size + this.#byLocalUrl.size + this.#byPeer.size;
  }

  get(id: string): Watched | undefined {
    return this.#byId.get(id);
  }

  put(w: Watched): void {
    this.delete(w.id);
    this.#byId.set(w.id, w);
    this.#byNetns.add(w.clientNetns, w.id);
    this.#byNetns.add(w.endpointNetns, w.id);
    this.#byEndpoint.add(w.endpoint.name, w.id);
    if (w.peer === undefined) this.#byLocalUrl.add(w.endpoint.url, w.id);
    this.#byPeer.add(w.peer, w.id);
  }

  delete(id: string): Watched | undefined {
    const w = this.#byId.get(id);
    if (!w) return undefined;
    this.#byId.delete(id);
    this.#byNetns.remove(w.clientNetns, id);
    this.#byNetns.remove(w.endpointNetns, id);
    this.#byEndpoint.remove(w.endpoint.name, id);
    if (w.peer === undefined) this.#byLocalUrl.remove(w.endpoint.url, id);
    this.#byPeer.remove(w.peer, id);
    return w;
  }

  #of(index: Index, key: string): Watched[] {
    return index.ids(key).map((id) => this.#byId.get(id)!);
  }

  inNetns(key: string): Watched[] {
    return this.#of(this.#byNetns, key);
  }

  ofEndpoint(name: string): Watched[] {
    return this.#of(this.#byEndpoint, name);
  }

  atLocalUrl(url: string): Watched[] {
    return this.#of(this.#byLocalUrl, url);
  }

  viaPeer(url: string): Watched[] {
    return this.#of(this.#byPeer, url);
  }

  all(): Watched[] {
    return [...this.#byId.values()];
  }
}
