import type { IPContext } from '../../../proto/api.ts';
import { NsmError } from '../../../sdk/errors.ts';
import { ipv4Block, ipv4Number, ipv4Text as toIp } from '../../../sdk/ip.ts';

function toInt(ip: string): number {
  const n = ipv4Number(ip);
  if (n === undefined) throw new Error(`${JSON.stringify(ip)} is not an IPv4 address`);
  return n;
}

const pairKey = (p: Pair) => `${p.src}-${p.dst}`;

export interface Pair {
  /** Client address (IPContext src). */
  src: string;
  /** Endpoint address (IPContext dst). */
  dst: string;
}

/**
 * The endpoint's address pool for point-to-point connections: each connection gets two addresses,
 * as /32s with host routes to each other, or as the two halves of a /31 when the pool is a /31. The
 * lowest free addresses go first, so released ones are reused.
 */
export class PointToPointPool {
  readonly cidr: string;
  readonly #first: number;
  readonly #last: number;
  readonly #pairLen: 31 | 32;
  readonly #used = new Set<number>();
  /** Every address below this one is in use. */
  #lowestFree: number;
  readonly #byConn = new Map<string, Pair>();
  /** Pairs in use by connections of an earlier run of the endpoint, until their refresh claims them. */
  readonly #adopted = new Map<string, Pair>();

  constructor(cidr: string) {
    const { base, length: len, size, cidr: normalised } = ipv4Block(cidr);
    this.cidr = normalised;
    this.#pairLen = len === 31 ? 31 : 32;
    // Below /30 the network and broadcast addresses are not handed out.
    const edge = len <= 30 ? 1 : 0;
    this.#first = base + edge;
    this.#lowestFree = this.#first;
    this.#last = base + size - 1 - edge;
  }

  get connections(): number {
    return this.#byConn.size;
  }

  /** Pairs reserved by `reserve` that no connection claimed yet. */
  get unclaimed(): number {
    return this.#adopted.size;
  }

  /**
   * Keeps a pair that a connection of an earlier run of this endpoint still uses (found on its
   * interfaces), so no new connection gets it; the refresh that carries it claims it. False when
   * it is not in the pool or taken.
   */
  reserve(p: Pair): boolean {
    if (!this.#claimable(p)) return false;
    this.#used.add(toInt(p.src));
    this.#used.add(toInt(p.dst));
    this.#adopted.set(pairKey(p), p);
    return true;
  }

  /** Frees the reserved pairs no refresh claimed (their connections are gone); returns how many. */
  releaseUnclaimed(): number {
    const n = this.#adopted.size;
    for (const p of this.#adopted.values()) {
      this.#used.delete(toInt(p.src));
      this.#used.delete(toInt(p.dst));
      this.#lowestFree = Math.min(this.#lowestFree, toInt(p.src), toInt(p.dst));
    }
    this.#adopted.clear();
    return n;
  }

  /** Addresses the pool hands out, and those in use. */
  get size(): number {
    return this.#last - this.#first + 1;
  }

  get used(): number {
    return this.#used.size;
  }

  get(connId: string): Pair | undefined {
    return this.#byConn.get(connId);
  }

  /** The pair of `connId`: the one it has, the one it asks for (if free and in the pool), or two new addresses. */
  allocate(connId: string, wanted?: Pair): Pair {
    const have = this.#byConn.get(connId);
    if (have) return have;
    const adopted = wanted && this.#adopted.get(pairKey(wanted));
    if (adopted) {
      this.#adopted.delete(pairKey(adopted));
      this.#byConn.set(connId, adopted);
      return adopted;
    }
    if (wanted && this.#claimable(wanted)) return this.#take(connId, wanted);
    const free: number[] = [];
    for (let n = this.#lowestFree; n <= this.#last && free.length < 2; n++) if (!this.#used.has(n)) free.push(n);
    if (free.length > 0) this.#lowestFree = free[0];
    if (free.length < 2) {
      throw new NsmError('RESOURCE_EXHAUSTED', `address pool ${this.cidr} is exhausted (${this.#byConn.size} connections hold its addresses): give the endpoint a larger NSM_CIDR_PREFIX`);
    }
    return this.#take(connId, { dst: toIp(free[0]), src: toIp(free[1]) });
  }

  /** Frees the pair of `connId`; or, for a connection of an earlier run that no refresh claimed yet, the reserved `carried` pair. */
  release(connId: string, carried?: Pair): void {
    const adopted = carried && !this.#byConn.has(connId) ? this.#adopted.get(pairKey(carried)) : undefined;
    if (adopted) {
      this.#adopted.delete(pairKey(adopted));
      this.#byConn.set(connId, adopted);
    }
    const p = this.#byConn.get(connId);
    if (!p) return;
    this.#byConn.delete(connId);
    this.#used.delete(toInt(p.src));
    this.#used.delete(toInt(p.dst));
    this.#lowestFree = Math.min(this.#lowestFree, toInt(p.src), toInt(p.dst));
  }

  #claimable(p: Pair): boolean {
    try {
      const a = toInt(p.src);
      const b = toInt(p.dst);
      return a !== b && [a, b].every((n) => n >= this.#first && n <= this.#last && !this.#used.has(n));
    } catch {
      return false;
    }
  }

  #take(connId: string, p: Pair): Pair {
    this.#used.add(toInt(p.src));
    this.#used.add(toInt(p.dst));
    this.#byConn.set(connId, p);
    return p;
  }

  /** The IP context of a pair, as upstream's point-to-point endpoints answer. */
  ipContext(p: Pair): IPContext {
    const len = this.#pairLen;
    return {
      srcIpAddrs: [`${p.src}/${len}`],
      dstIpAddrs: [`${p.dst}/${len}`],
      srcIpRequired: false,
      dstIpRequired: false,
      srcRoutes: len === 32 ? [{ prefix: `${p.dst}/32`, nextHop: '' }] : [],
      dstRoutes: len === 32 ? [{ prefix: `${p.src}/32`, nextHop: '' }] : [],
      excludedPrefixes: [],
      ipNeighbors: [],
      extraPrefixRequest: [],
      extraPrefixes: [],
      policies: [],
    };
  }
}

/** The pair a connection already carries (a refresh after an endpoint restart), if any. */
export function pairOf(ctx: IPContext | undefined): Pair | undefined {
  const src = ctx?.srcIpAddrs[0]?.split('/')[0];
  const dst = ctx?.dstIpAddrs[0]?.split('/')[0];
  return src && dst ? { src, dst } : undefined;
}
