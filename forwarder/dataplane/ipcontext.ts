import type { IPContext, Route } from '../../proto/api.ts';
import { inPrefix } from '../../sdk/ip.ts';
import type { KernelOp } from './kernel-op.ts';
import { addAddress, replaceRoute } from './ops.ts';

export type Side = 'client' | 'endpoint';

const hostOf = (cidr: string) => cidr.split('/')[0];
const isV6 = (ip: string) => ip.includes(':');
const hostPrefix = (ip: string) => `${ip}/${isV6(ip) ? 128 : 32}`;
/** An address without a length is a host address, as `ip address add` reads it. */
const withLength = (cidr: string) => (cidr.includes('/') ? cidr : hostPrefix(cidr));

/**
 * The ops that give one end of a connection its addresses and routes (sdk-kernel semantics):
 * the client gets src addresses and src routes, the endpoint dst ones; a route's next hop
 * defaults to the first peer address of its family; a peer address no own prefix covers gets an
 * on-link host route.
 */
export function ipContextOps(ifname: string, ctx: IPContext | undefined, side: Side): KernelOp[] {
  if (!ctx) return [];
  const own = side === 'client' ? ctx.srcIpAddrs : ctx.dstIpAddrs;
  const peer = side === 'client' ? ctx.dstIpAddrs : ctx.srcIpAddrs;
  const routes: Route[] = side === 'client' ? ctx.srcRoutes : ctx.dstRoutes;
  const ops: KernelOp[] = own.map((a) => addAddress({ name: ifname, address: withLength(a) }));
  const onLink = new Set<string>();
  for (const p of peer) {
    const ip = hostOf(p);
    if (!own.some((o) => inPrefix(o, ip))) {
      onLink.add(hostPrefix(ip));
      ops.push(replaceRoute({ name: ifname, dst: hostPrefix(ip), scopeLink: true }));
    }
  }
  for (const r of routes) {
    if (onLink.has(r.prefix)) continue;
    const via = r.nextHop || peer.map(hostOf).find((ip) => isV6(ip) === isV6(hostOf(r.prefix)));
    const covered = own.some((o) => inPrefix(o, hostOf(r.prefix)) && o.split('/')[1] === r.prefix.split('/')[1]);
    if (covered) continue;
    const dst = withLength(r.prefix);
    ops.push(via && via !== hostOf(r.prefix) ? replaceRoute({ name: ifname, dst, via }) : replaceRoute({ name: ifname, dst, scopeLink: true }));
  }
  return ops;
}
