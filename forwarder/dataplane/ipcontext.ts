import type { IPContext, Route } from '../../proto/api.ts';
import { inPrefix } from '../../sdk/ip.ts';

export type Side = 'client' | 'endpoint';

const hostOf = (cidr: string) => cidr.split('/')[0];
const isV6 = (ip: string) => ip.includes(':');

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
    if (!own.some((o) => inPrefix(o, ip))) {
      onLink.add(`${ip}/${isV6(ip) ? 128 : 32}`);
      commands.push(`route replace ${ip}/${isV6(ip) ? 128 : 32} dev ${ifname} scope link`);
    }
  }
  for (const r of routes) {
    if (onLink.has(r.prefix)) continue;
    const via = r.nextHop || peer.map(hostOf).find((ip) => isV6(ip) === isV6(hostOf(r.prefix)));
    const covered = own.some((o) => inPrefix(o, hostOf(r.prefix)) && o.split('/')[1] === r.prefix.split('/')[1]);
    if (covered) continue;
    commands.push(via && via !== hostOf(r.prefix) ? `route replace ${r.prefix} via ${via} dev ${ifname}` : `route replace ${r.prefix} dev ${ifname} scope link`);
  }
  return commands;
}
