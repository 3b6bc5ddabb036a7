import { NsmError } from '../sdk/errors.ts';
import { runIpSync } from '../sdk/ip-command.ts';

/** A node namespace joined to the underlay. */
export interface UnderlayNode {
  netns: string;
  ifname: string;
  ip: string;
}

export const UNDERLAY_IF = 'ul0';
const BRIDGE = 'br-ul';

function ip(args: string[]): void {
  const r = runIpSync(args);
  if (!r.ok) throw new NsmError('INTERNAL', `ip ${args.join(' ')}: ${r.stderr.trim() || 'failed'}`);
}

/** The first `<base>.x` (/24) that no route of this host touches and `taken` does not hold, so the sandbox never shadows a real network. */
export function freeSubnet(routes = runIpSync(['-4', 'route', 'show', 'table', 'all']).stdout, base = '10.250', taken: readonly string[] = []): string {
  for (let x = 0; x < 256; x++) if (!routes.includes(`${base}.${x}.`) && !taken.includes(`${base}.${x}`)) return `${base}.${x}`;
  throw new NsmError('RESOURCE_EXHAUSTED', `every ${base}.x.0/24 is routed on this host; remove one or run the sandbox elsewhere`);
}

/**
 * Joins existing node namespaces through a bridge in `bridgeNetns` (created here): each node gets
 * `ul0` with `<subnet>.<i+1>/24` and a default route over it, as a real node has.
 */
export function buildUnderlay(bridgeNetns: string, nodeNetns: readonly string[], subnet: string): UnderlayNode[] {
  ip(['netns', 'add', bridgeNetns]);
  ip(['-n', bridgeNetns, 'link', 'add', BRIDGE, 'type', 'bridge']);
  ip(['-n', bridgeNetns, 'link', 'set', BRIDGE, 'up']);
  return nodeNetns.map((netns, i) => {
    const port = `port${i + 1}`;
    const address = `${subnet}.${i + 1}`;
    ip(['-n', bridgeNetns, 'link', 'add', port, 'type', 'veth', 'peer', 'name', UNDERLAY_IF, 'netns', netns]);
    ip(['-n', bridgeNetns, 'link', 'set', port, 'master', BRIDGE, 'up']);
    ip(['-n', netns, 'link', 'set', 'lo', 'up']);
    ip(['-n', netns, 'addr', 'add', `${address}/24`, 'dev', UNDERLAY_IF]);
    ip(['-n', netns, 'link', 'set', UNDERLAY_IF, 'up']);
    ip(['-n', netns, 'route', 'add', 'default', 'dev', UNDERLAY_IF]);
    return { netns, ifname: UNDERLAY_IF, ip: address };
  });
}
