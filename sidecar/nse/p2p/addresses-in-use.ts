import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import type { Pair } from './point-to-point-pool.ts';

/** The name the forwarder gives an endpoint's end of a connection: `nsm` and 10 hex digits of the connection id's hash. */
const ENDPOINT_END = /^nsm[0-9a-f]{10}$/;

const ipOfHex = (hex: string) => {
  const n = Number.parseInt(hex, 16);
  return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join('.');
};

/** IPv4 host routes (/32) of this namespace by interface, from /proc/net/route (addresses in little-endian hex). */
function hostRoutes(table: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of table.split('\n').slice(1)) {
    const [iface, destination, , , , , , mask] = line.trim().split(/\s+/);
    if (!iface || mask !== 'FFFFFFFF') continue;
    out.set(iface, [...(out.get(iface) ?? []), ipOfHex(destination)]);
  }
  return out;
}

/**
 * The address pairs connections still use on this endpoint's interfaces (after a restart of the
 * endpoint process in the same pod): on each end the forwarder made, the endpoint's own address
 * and the client's, which is the host route beside a /32 or the other half of a /31.
 */
export function pairsOnInterfaces(interfaces = networkInterfaces(), routes = (() => readFileSync('/proc/net/route', 'utf8'))): Pair[] {
  const pairs: Pair[] = [];
  let byIface: Map<string, string[]> | undefined;
  for (const [name, addresses] of Object.entries(interfaces)) {
    if (!ENDPOINT_END.test(name)) continue;
    for (const a of addresses ?? []) {
      if (a.family !== 'IPv4') continue;
      if (a.cidr?.endsWith('/31')) {
        const last = Number(a.address.split('.')[3]);
        pairs.push({ dst: a.address, src: a.address.replace(/\d+$/, String(last ^ 1)) });
      } else if (a.cidr?.endsWith('/32')) {
        byIface ??= hostRoutes(routes());
        for (const src of byIface.get(name) ?? []) pairs.push({ dst: a.address, src });
      }
    }
  }
  return pairs;
}
