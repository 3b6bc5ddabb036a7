import { isIP } from 'node:net';
import { NsmError } from '../../sdk/errors.ts';
import { ipJson as runIpJson } from '../../sdk/ip-command.ts';

export interface Underlay {
  ip: string;
  ifname: string;
  mtu: number;
}

/** Runs `ip -j ...` (in the forwarder's own namespace) and returns the parsed JSON. */
export type IpJson = (args: string[]) => Promise<unknown>;

export const ipJson: IpJson = (args) => runIpJson(args, { timeoutMs: 5000 });

interface RouteRow { dst?: string; dev?: string }
interface AddrRow { ifname: string; mtu: number; addr_info?: Array<{ family: string; local: string; scope: string }> }

/**
 * Where tunnels start: NSM_TUNNEL_IP when set (the interface that holds it gives the MTU),
 * otherwise the first global address of the interface that carries the default route.
 */
export async function findUnderlay(tunnelIp: string, ip: IpJson = ipJson): Promise<Underlay> {
  const addrs = (await ip(['addr', 'show'])) as AddrRow[];
  if (tunnelIp !== '') {
    if (!isIP(tunnelIp)) throw new NsmError('INVALID_ARGUMENT', `NSM_TUNNEL_IP=${tunnelIp} is not an IP address`);
    const owner = addrs.find((a) => a.addr_info?.some((i) => i.local === tunnelIp));
    if (!owner) throw new NsmError('FAILED_PRECONDITION', `NSM_TUNNEL_IP=${tunnelIp} is not an address of this host; set it to one that is (ip addr show)`);
    return { ip: tunnelIp, ifname: owner.ifname, mtu: owner.mtu };
  }
  const routes = [...((await ip(['-4', 'route', 'show', 'default'])) as RouteRow[]), ...((await ip(['-6', 'route', 'show', 'default'])) as RouteRow[])];
  for (const route of routes) {
    const link = addrs.find((a) => a.ifname === route.dev);
    const global = link?.addr_info?.find((i) => i.scope === 'global' && (i.family === 'inet' || i.family === 'inet6'));
    if (link && global) return { ip: global.local, ifname: link.ifname, mtu: link.mtu };
  }
  throw new NsmError('FAILED_PRECONDITION', 'no default route with a global address to carry tunnels; set NSM_TUNNEL_IP to this node\'s address');
}
