import { NsmError } from '../../../sdk/errors.ts';

/** VNIs are 24 bits; GRE keys get numbers from the same range, so one pool serves both. */
export const TUNNEL_ID_MAX = (1 << 24) - 1;
const TRIES = 64;

/**
 * The VNI (or GRE key) of each connection to the device, unique among this endpoint's
 * connections. New numbers are random rather than lowest-free: when the client's node already
 * uses one, the forwarder closes and asks again, and must then be offered another.
 */
export class TunnelIds {
  readonly #byConn = new Map<string, number>();
  readonly #used = new Set<number>();
  readonly #random: () => number;

  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  get size(): number {
    return this.#byConn.size;
  }

  has(connId: string): boolean {
    return this.#byConn.has(connId);
  }

  /** The number `connId` has, the one it asks for when free (a refresh after an endpoint restart), or a new one. */
  allocate(connId: string, wanted?: number): number {
    const have = this.#byConn.get(connId);
    if (have !== undefined) return have;
    if (wanted !== undefined && wanted >= 1 && wanted <= TUNNEL_ID_MAX && !this.#used.has(wanted)) return this.#take(connId, wanted);
    for (let i = 0; i < TRIES; i++) {
      const id = 1 + Math.floor(this.#random() * TUNNEL_ID_MAX);
      if (!this.#used.has(id)) return this.#take(connId, id);
    }
    throw new NsmError('RESOURCE_EXHAUSTED', `no free tunnel id after ${TRIES} tries (${this.#used.size} connections to the device)`);
  }

  release(connId: string): void {
    const id = this.#byConn.get(connId);
    if (id === undefined) return;
    this.#byConn.delete(connId);
    this.#used.delete(id);
  }

  #take(connId: string, id: number): number {
    this.#used.add(id);
    this.#byConn.set(connId, id);
    return id;
  }
}
