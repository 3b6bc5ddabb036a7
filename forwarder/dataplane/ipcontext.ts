import type { IPContext, Route } from '../../proto/api.ts';

export type Side = 'client' | 'endpoint';

const hostOf = (cidr: string) => cidr.split('/')[0];
const isV6 = (ip: string) => ip.includes(':');

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

/** An IPv6 address (`::` shorthand, an IPv4 tail, a `%zone`) as a 128-bit number; undefined if malformed. */
function ipv6ToBigInt(ip: string): bigint | undefined {
  let text = ip.split('%')[0];
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const n = ipv4ToInt(v4[0]);
    text = `${text.slice(0, -v4[0].length)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] === '' ? [] : halves[0].split(':');
  const tail = halves.length === 1 || halves[1] === '' ? [] : halves[1].split(':');
  const zeros = halves.length === 2 ? 8 - head.length - tail.length : 0;
  if (zeros < 0 || (halves.length === 2 && zeros === 0)) return undefined;
  const groups = [...head, ...Array<string>(zeros).fill('0'), ...tail];
  if (groups.length !== 8 || !groups.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return undefined;
  return groups.reduce((n, g) => (n << 16n) | BigInt(Number.parseInt(g, 16)), 0n);
}

/** Whether `ip` lies inside `cidr`; addresses of different families never do. */
export function covers(cidr: string, ip: string): boolean {
  const [net, lenText] = cidr.split('/');
  if (isV6(net) !== isV6(ip)) return false;
  if (isV6(net)) {
    const [a, b] = [ipv6ToBigInt(net), ipv6ToBigInt(ip)];
    if (a === undefined || b === undefined) return net === ip;
    const len = BigInt(lenText === undefined ? 128 : Number(lenText));
    const mask = ((1n << 128n) - 1n) ^ ((1n << (128n - len)) - 1n);
    return (a & mask) === (b & mask);
  }
  const len = lenText === undefined ? 32 : Number(lenText);
  if (len === 0) return true;
  const mask = len === 32 ? 0xffffffff : (0xffffffff << (32 - len)) >>> 0;
  return ((ipv4ToInt(net) & mask) >>> 0) === ((ipv4ToInt(ip) & mask) >>> 0);
}

/**
 * The `ip` commands that give one end of a connection its addresses and routes (sdk-kernel
 * semantics): the client gets src addresses and src routes, the endpoint dst ones; a route's next
 * hop defaults to the first peer address of its family; a peer address no own prefix covers gets
 * an on-link host route.
 */
export function ipContextCommands(ifname: string, ctx: IPContext | undefined, side: Side): string[] {
  if (!ctx) return [];
  const own = side === 'client' ? ctx.srcIpAddrs : ctx.dstIpAddrs;
  const peer = side === 'client' ? ctx.dstIpAddrs : ctx.srcIpAddrs;
  const routes: Route[] = side === 'client' ? ctx.srcRoutes : ctx.dstRoutes;
  const commands = own.map((a) => `address add ${a} dev ${ifname}`);
  const onLink = new Set<string>();
  for (const p of peer) {
    const ip = hostOf(p);
    if (!own.some((o) => covers(o, ip))) {
      onLink.add(`${ip}/${isV6(ip) ? 128 : 32}`);
      commands.push(`route replace ${ip}/${isV6(ip) ? 128 : 32} dev ${ifname} scope link`);
    }
  }
  for (const r of routes) {
    if (onLink.has(r.prefix)) continue;
    const via = r.nextHop || peer.map(hostOf).find((ip) => isV6(ip) === isV6(hostOf(r.prefix)));
    const covered = own.some((o) => covers(o, hostOf(r.prefix)) && o.split('/')[1] === r.prefix.split('/')[1]);
    if (covered) continue;
    commands.push(via && via !== hostOf(r.prefix) ? `route replace ${r.prefix} via ${via} dev ${ifname}` : `route replace ${r.prefix} dev ${ifname} scope link`);
  }
  return commands;
}
