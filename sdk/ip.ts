import { isIP } from 'node:net';

/**
 * An address as bytes: 4 for IPv4, 16 for IPv6 (`::` shorthand, an IPv4 tail and a `%zone`
 * understood); undefined when it is not an address.
 */
export function ipBytes(ip: string): number[] | undefined {
  const bare = ip.split('%')[0];
  const family = isIP(bare);
  if (family === 4) return bare.split('.').map(Number);
  if (family !== 6) return undefined;
  let text = bare;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number);
    text = `${text.slice(0, -v4[0].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail = ''] = text.split('::');
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const h = groups(head);
  const t = groups(tail);
  const all = text.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  return all.flatMap((g) => {
    const n = Number.parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
}

/**
 * Whether `ip` lies inside `cidr` (`address/length`; without a length, the address alone).
 * Addresses of different families never do; a malformed one is only equal to itself.
 */
export function inPrefix(cidr: string, ip: string): boolean {
  const [net, lenText] = cidr.split('/');
  const a = ipBytes(net);
  const b = ipBytes(ip);
  if (!a || !b) return net === ip;
  if (a.length !== b.length) return false;
  let bits = lenText === undefined ? a.length * 8 : Number(lenText);
  for (let i = 0; i < a.length && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((a[i] & mask) !== (b[i] & mask)) return false;
  }
  return true;
}

/** A dotted IPv4 address as a number from 0 to 2^32-1; undefined when it is not one. */
export function ipv4Number(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined;
  return parts.reduce((n, o) => n * 256 + Number(o), 0);
}

export const ipv4Text = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');

/** An IPv4 prefix: its first address, its length and how many addresses it holds. */
export interface Ipv4Block {
  base: number;
  length: number;
  size: number;
  /** `a.b.c.d/len` with the host bits cleared. */
  cidr: string;
}

/** Reads `a.b.c.d/len` (host bits are cleared); throws an Error saying what is wrong. */
export function ipv4Block(cidr: string): Ipv4Block {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(cidr.trim());
  if (!m || Number(m[2]) > 32) throw new Error(`${JSON.stringify(cidr)} is not an IPv4 CIDR such as 10.60.0.0/24`);
  const address = ipv4Number(m[1]);
  if (address === undefined) throw new Error(`${JSON.stringify(m[1])} is not an IPv4 address`);
  const length = Number(m[2]);
  const size = 2 ** (32 - length);
  const base = Math.floor(address / size) * size;
  return { base, length, size, cidr: `${ipv4Text(base)}/${length}` };
}
