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
