import { NsmError } from '../../../sdk/errors.ts';
import { ipv4Block, ipv4Number, ipv4Text, type Ipv4Block } from '../../../sdk/ip.ts';

/**
 * The addresses a bridge endpoint hands out: one per client, from its pool (NSM_IP_POOL, or all of
 * NSM_CIDR_PREFIX), each with the prefix's length, so the clients of every bridge of a domain share
 * one subnet and find each other by ARP. Never handed out: the pool's own first and last address
 * (below /31) and the prefix's network and broadcast address. The bridge holds the lowest address
 * left; clients get the lowest free ones after it. Addresses found in use after an endpoint
 * restart are held for the clients that come back with them.
 */
export class SubnetPool {
  readonly prefix: Ipv4Block;
  readonly pool: Ipv4Block;
  /** The bridge's own address (no prefix length). */
  readonly bridgeAddress: string;
  readonly #first: number;
  readonly #last: number;
  readonly #used = new Set<number>();
  readonly #held = new Set<number>();
  readonly #byConn = new Map<string, number>();
  /** Every address below this one is in use. */
  #lowestFree: number;

  /** Throws an Error naming which of the two is wrong: "NSM_CIDR_PREFIX ..." or "NSM_IP_POOL ...". */
  constructor(prefix: string, pool = '') {
    this.prefix = block('NSM_CIDR_PREFIX', prefix);
    this.pool = pool === '' ? this.prefix : block('NSM_IP_POOL', pool);
    const p = this.prefix;
    const inside = this.pool.base >= p.base && this.pool.base + this.pool.size <= p.base + p.size;
    if (!inside) throw new Error(`NSM_IP_POOL=${this.pool.cidr} is not inside NSM_CIDR_PREFIX=${p.cidr}: the pool is the part of the domain's subnet this endpoint hands out`);
    const edge = (b: Ipv4Block) => (b.length <= 30 ? 1 : 0);
    const first = Math.max(this.pool.base + edge(this.pool), p.base + edge(p));
    this.#last = Math.min(this.pool.base + this.pool.size - 1 - edge(this.pool), p.base + p.size - 1 - edge(p));
    if (first >= this.#last) throw new Error(`${pool === '' ? 'NSM_CIDR_PREFIX' : 'NSM_IP_POOL'}=${this.pool.cidr} leaves no address for a client beside the bridge's own: give a pool of /30 or larger`);
    this.bridgeAddress = ipv4Text(first);
    this.#first = first + 1;
    this.#lowestFree = this.#first;
  }

  /** `address/<prefix length>`. */
  withLength(ip: string): string {
    return `${ip}/${this.prefix.length}`;
  }

  get connections(): number {
    return this.#byConn.size;
  }

  /** Addresses the pool hands out to clients. */
  get size(): number {
    return this.#last - this.#first + 1;
  }

  /** Addresses clients hold, or are held for returning ones. */
  get used(): number {
    return this.#used.size;
  }

  get(connId: string): string | undefined {
    const n = this.#byConn.get(connId);
    return n === undefined ? undefined : ipv4Text(n);
  }

  /** The address of `connId`: the one it has, the one it asks for (held for it, or free, and in the pool), or the lowest free one. */
  allocate(connId: string, wanted?: string): string {
    const have = this.get(connId);
    if (have) return have;
    const asked = wanted === undefined ? undefined : ipv4Number(wanted);
    if (asked !== undefined && this.#inRange(asked) && (this.#held.delete(asked) || !this.#used.has(asked))) return this.#take(connId, asked);
    let n = this.#lowestFree;
    while (n <= this.#last && this.#used.has(n)) n++;
    this.#lowestFree = n;
    if (n > this.#last) {
      throw new NsmError('RESOURCE_EXHAUSTED', `address pool ${this.pool.cidr} is exhausted (${this.#byConn.size} clients and ${this.#held.size} held for returning clients use its addresses): give the endpoint a larger NSM_IP_POOL`);
    }
    return this.#take(connId, n);
  }

  release(connId: string): void {
    const n = this.#byConn.get(connId);
    if (n === undefined) return;
    this.#byConn.delete(connId);
    this.#used.delete(n);
    this.#lowestFree = Math.min(this.#lowestFree, n);
  }

  /** Keeps `ip` for the client that had it before a restart; false when it is not one of the pool's. */
  hold(ip: string): boolean {
    const n = ipv4Number(ip);
    if (n === undefined || !this.#inRange(n) || this.#used.has(n)) return false;
    this.#used.add(n);
    this.#held.add(n);
    return true;
  }

  /** Gives up every hold no client came back for; returns those addresses. */
  releaseHeld(): string[] {
    const left = [...this.#held];
    this.#held.clear();
    for (const n of left) this.#used.delete(n);
    if (left.length > 0) this.#lowestFree = Math.min(this.#lowestFree, ...left);
    return left.map(ipv4Text);
  }

  #inRange(n: number): boolean {
    return n >= this.#first && n <= this.#last;
  }

  #take(connId: string, n: number): string {
    this.#used.add(n);
    this.#byConn.set(connId, n);
    return ipv4Text(n);
  }
}

function block(variable: string, cidr: string): Ipv4Block {
  try {
    return ipv4Block(cidr);
  } catch (err) {
    throw new Error(`${variable}=${cidr}: ${(err as Error).message}`, { cause: err });
  }
}
