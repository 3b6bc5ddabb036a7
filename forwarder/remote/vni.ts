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

/**
 * Allocates VNIs on the endpoint side. Linux allows one VXLAN device per VNI and UDP port in a
 * namespace whatever the remote, so numbers are unique per node, not only per peer.
 */
export class VniAllocator {
  readonly #inUse = new Set<number>();
  readonly #random: () => number;

  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  allocate(srcIp: string, dstIp: string): number {
    const even = vniIsEven(srcIp, dstIp);
    for (let attempt = 0; attempt < 64; attempt++) {
      let vni = 1 + Math.floor(this.#random() * VNI_MAX);
      if ((vni % 2 === 0) !== even) vni = vni === VNI_MAX ? vni - 1 : vni + 1;
      if (!this.#inUse.has(vni)) {
        this.#inUse.add(vni);
        return vni;
      }
    }
    throw new NsmError('RESOURCE_EXHAUSTED', `no free VXLAN VNI after 64 tries (${this.#inUse.size} in use on this node)`);
  }

  /** Marks a VNI taken (a connection re-adopted after a restart); false when it already was. */
  reserve(vni: number): boolean {
    if (this.#inUse.has(vni)) return false;
    this.#inUse.add(vni);
    return true;
  }

  release(vni: number): void {
    this.#inUse.delete(vni);
  }

  get size(): number {
    return this.#inUse.size;
  }
}
