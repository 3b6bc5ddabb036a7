import { ipv4Number } from '../../../sdk/ip.ts';

/**
 * The MAC that goes with an address of a bridge domain: locally administered unicast `02:6e`, then
 * the four bytes of the IPv4 address. Addresses are unique in a domain, so these MACs are too, and
 * a client keeps its MAC as long as it keeps its address.
 */
export function macOf(ip: string): string {
  const n = ipv4Number(ip);
  if (n === undefined) throw new Error(`${JSON.stringify(ip)} is not an IPv4 address`);
  return [0x02, 0x6e, ...[24, 16, 8, 0].map((s) => (n >>> s) & 255)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}
