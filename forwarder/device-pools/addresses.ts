import { NsmError } from '../../sdk/errors.ts';
import { ipBytes } from '../../sdk/ip.ts';

const toBig = (bytes: number[]) => bytes.reduce((n, b) => (n << 8n) | BigInt(b), 0n);

function toText(n: bigint, v4: boolean): string {
  const size = v4 ? 4 : 16;
  const bytes = Array.from({ length: size }, (_, i) => Number((n >> BigInt(8 * (size - 1 - i))) & 0xffn));
  if (v4) return bytes.join('.');
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i] << 8) | bytes[2 * i + 1]).toString(16));
  // The URL parser writes an IPv6 address in its canonical short form (RFC 5952).
  return new URL(`http://[${groups.join(':')}]`).hostname.slice(1, -1);
}

/** The first and last address of `address/length`, or undefined when it is not one. */
function range(cidr: string): { v4: boolean; length: number; first: bigint; last: bigint } | undefined {
  const [addr, len] = cidr.split('/');
  const bytes = ipBytes(addr);
  if (!bytes || len === undefined) return undefined;
  const bits = BigInt(bytes.length * 8);
  const size = 1n << (bits - BigInt(len));
  const first = (toBig(bytes) / size) * size;
  return { v4: bytes.length === 4, length: Number(len), first, last: first + size - 1n };
}

/**
 * The addresses a pool hands its clients: one per connection from `cidrPrefix`, with the
 * prefix's own length (the device is on the network behind the pool), never one of
 * `excludePrefixes`, nor the network's own address (nor, in IPv4 below /31, its broadcast).
 * The lowest free address goes first.
 */
export class AddressPool {
  readonly cidr: string;
  readonly #length: number;
  readonly #v4: boolean;
  readonly #first: bigint;
  readonly #last: bigint;
  readonly #shownExcludes: string;
  readonly #excluded: Array<{ first: bigint; last: bigint }>;
  readonly #byConn = new Map<string, bigint>();
  readonly #used = new Set<bigint>();

  constructor(cidrPrefix: string, excludePrefixes: readonly string[] = []) {
    const r = range(cidrPrefix);
    if (!r) throw new NsmError('INVALID_ARGUMENT', `${JSON.stringify(cidrPrefix)} is not an address with a prefix length`);
    this.#v4 = r.v4;
    this.#length = r.length;
    this.cidr = `${toText(r.first, r.v4)}/${r.length}`;
    const edges = r.last - r.first > 1n;
    this.#first = edges ? r.first + 1n : r.first;
    this.#last = edges && r.v4 ? r.last - 1n : r.last;
    this.#excluded = excludePrefixes.map(range).filter((x) => x !== undefined && x.v4 === r.v4).map((x) => ({ first: x!.first, last: x!.last }));
    this.#shownExcludes = excludePrefixes.join(', ') || 'nothing';
  }

  /** The address of `connId` (`address/length`): the one it has, the one it asks for when free, or the lowest free one. */
  take(connId: string, wanted?: string): string {
    const have = this.#byConn.get(connId);
    if (have !== undefined) return this.#shown(have);
    const asked = wanted === undefined ? undefined : this.#claimable(wanted.split('/')[0]);
    const n = asked ?? this.#lowestFree();
    if (n === undefined) {
      throw new NsmError('RESOURCE_EXHAUSTED', `the pool's addresses (${this.cidr} without ${this.#shownExcludes}) are all in use by ${this.#byConn.size} connections: give the pool a larger cidrPrefix`);
    }
    this.#byConn.set(connId, n);
    this.#used.add(n);
    return this.#shown(n);
  }

  release(connId: string): void {
    const n = this.#byConn.get(connId);
    if (n === undefined) return;
    this.#byConn.delete(connId);
    this.#used.delete(n);
  }

  #shown(n: bigint): string {
    return `${toText(n, this.#v4)}/${this.#length}`;
  }

  #claimable(ip: string): bigint | undefined {
    const bytes = ipBytes(ip);
    if (!bytes || (bytes.length === 4) !== this.#v4) return undefined;
    const n = toBig(bytes);
    const free = n >= this.#first && n <= this.#last && !this.#used.has(n) && !this.#excluded.some((x) => n >= x.first && n <= x.last);
    return free ? n : undefined;
  }

  /** Steps over used addresses one by one and over excluded ranges whole, so it ends after at most as many steps as there are of those. */
  #lowestFree(): bigint | undefined {
    let n = this.#first;
    while (n <= this.#last) {
      const ex = this.#excluded.find((x) => n >= x.first && n <= x.last);
      if (ex) n = ex.last + 1n;
      else if (this.#used.has(n)) n++;
      else return n;
    }
    return undefined;
  }
}
