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
  return nodeNetns.map((netns, i) => joinUnderlay(bridgeNetns, netns, `port${i + 1}`, `${subnet}.${i + 1}`));
}

/**
 * Plugs a namespace into the underlay bridge as port `port`: `ul0` with `<address>/24` and a
 * default route over it, so every address on the bridge is reached directly, in the subnet or not.
 */
export function joinUnderlay(bridgeNetns: string, netns: string, port: string, address: string): UnderlayNode {
  ip(['-n', bridgeNetns, 'link', 'add', port, 'type', 'veth', 'peer', 'name', UNDERLAY_IF, 'netns', netns]);
  ip(['-n', bridgeNetns, 'link', 'set', port, 'master', BRIDGE, 'up']);
  ip(['-n', netns, 'link', 'set', 'lo', 'up']);
  ip(['-n', netns, 'addr', 'add', `${address}/24`, 'dev', UNDERLAY_IF]);
  ip(['-n', netns, 'link', 'set', UNDERLAY_IF, 'up']);
  ip(['-n', netns, 'route', 'add', 'default', 'dev', UNDERLAY_IF]);
  return { netns, ifname: UNDERLAY_IF, ip: address };
}

/**
 * Where devices outside the cluster sit on the sandbox's underlay: TEST-NET-1 (RFC 5737), an
 * address range never routed anywhere, outside the nodes' subnet as a router beyond the cluster
 * would be. Device i gets `.<i+1>`, so the first one is always 192.0.2.1.
 */
export const DEVICE_SUBNET = '192.0.2';

/** A device outside the cluster: a namespace on the underlay that runs no forwarder. */
export function attachDevice(bridgeNetns: string, netns: string, index: number): UnderlayNode {
  return joinUnderlay(bridgeNetns, netns, `dev${index + 1}`, `${DEVICE_SUBNET}.${index + 1}`);
}
