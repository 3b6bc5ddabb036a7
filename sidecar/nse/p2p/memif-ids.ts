/**
 * Memif interface ids on the endpoint's one memif socket: each connection gets the lowest free id
 * and keeps it until Close, so the endpoint application can tell its clients apart.
 */
export class MemifIds {
  readonly #byConn = new Map<string, number>();
  readonly #used = new Set<number>();

  get(connId: string): number | undefined {
    return this.#byConn.get(connId);
  }

  get size(): number {
    return this.#byConn.size;
  }

  /** The id `connId` has, the one it asks for (when free: a refresh after an endpoint restart), or the lowest free one. */
  allocate(connId: string, wanted?: number): number {
    const have = this.#byConn.get(connId);
    if (have !== undefined) return have;
    if (wanted !== undefined && !this.#used.has(wanted)) return this.#take(connId, wanted);
    let id = 0;
    while (this.#used.has(id)) id++;
    return this.#take(connId, id);
  }

  #take(connId: string, id: number): number {
    this.#used.add(id);
    this.#byConn.set(connId, id);
    return id;
  }

  release(connId: string): void {
    const id = this.#byConn.get(connId);
    if (id === undefined) return;
    this.#byConn.delete(connId);
    this.#used.delete(id);
  }
}
