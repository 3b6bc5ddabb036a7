import { NsmError } from '../../sdk/errors.ts';
import { ipBytes } from '../../sdk/ip.ts';

export const VNI_MAX = (1 << 24) - 1;

function bytes(ip: string): number[] {
  const b = ipBytes(ip);
  if (!b) throw new NsmError('INVALID_ARGUMENT', `${JSON.stringify(ip)} is not an IP address`);
  return b;
}

/** Byte-wise comparison of two addresses of the same family. */
export function compareIps(a: string, b: string): number {
  const x = bytes(a);
  const y = bytes(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Upstream's rule: the VNI for a tunnel from `srcIp` (client side) to `dstIp` (endpoint side) is
 * even when srcIp <= dstIp and odd otherwise, so two nodes allocating toward each other at the
 * same moment can never pick the same number.
 */
export function vniIsEven(srcIp: string, dstIp: string): boolean {
  return compareIps(srcIp, dstIp) <= 0;
}

/** A VNI (or GRE key) held for one connection; releasing it more than once releases it once. */
export interface VniLease {
  readonly vni: number;
  release(): void;
}

/**
 * VNIs on this node. Linux allows one VXLAN device per VNI and UDP port in a namespace whatever
 * the remote, so numbers are unique per node, not only per peer. Every number handed out is a
 * lease: whoever holds it releases it, once.
 */
export class VniAllocator {
  readonly #inUse = new Set<number>();
  readonly #random: () => number;

  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  /** A fresh VNI for a tunnel from `srcIp` (the client's node) to `dstIp` (this one), by upstream's parity rule. */
  allocate(srcIp: string, dstIp: string): VniLease {
    const even = vniIsEven(srcIp, dstIp);
    for (let attempt = 0; attempt < 64; attempt++) {
      let vni = 1 + Math.floor(this.#random() * VNI_MAX);
      if ((vni % 2 === 0) !== even) vni = vni === VNI_MAX ? vni - 1 : vni + 1;
      if (!this.#inUse.has(vni)) return this.#lease(vni);
    }
    throw new NsmError('RESOURCE_EXHAUSTED', `no free VXLAN VNI after 64 tries (${this.#inUse.size} in use on this node)`);
  }

  /** A VNI chosen elsewhere (the peer's, or one a connection already had); undefined when it is taken on this node. */
  reserve(vni: number): VniLease | undefined {
    return this.#inUse.has(vni) ? undefined : this.#lease(vni);
  }

  #lease(vni: number): VniLease {
    this.#inUse.add(vni);
    let held = true;
    return {
      vni,
      release: () => {
        if (held) this.#inUse.delete(vni);
        held = false;
      },
    };
  }

  get size(): number {
    return this.#inUse.size;
  }
}
