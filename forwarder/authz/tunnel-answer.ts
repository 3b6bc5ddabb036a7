import { BlockList, isIP } from 'node:net';
import { Keys, MechanismType, type Mechanism } from '../../proto/api.ts';
import { inPrefix } from '../../sdk/ip.ts';

const TUNNEL_TYPES: readonly string[] = [MechanismType.VXLAN, MechanismType.GRE];

/** Addresses no tunnel may point at: unspecified, loopback, link-local, multicast and reserved/broadcast. */
const SPECIAL = new BlockList();
for (const [net, len] of [['0.0.0.0', 8], ['127.0.0.0', 8], ['169.254.0.0', 16], ['224.0.0.0', 4], ['240.0.0.0', 4]] as const) SPECIAL.addSubnet(net, len, 'ipv4');
for (const [net, len] of [['::', 128], ['::1', 128], ['fe80::', 10], ['ff00::', 8]] as const) SPECIAL.addSubnet(net, len, 'ipv6');

/** Where this node lets endpoints point its clients' tunnels. */
export interface TunnelTargets {
  /** The underlay addresses of the mesh's forwarders, as this node knows them. */
  meshNodes: ReadonlySet<string>;
  /** NSM_EXTERNAL_DEVICE_CIDRS: when not empty, the only addresses a tunnel may point at. */
  deviceCidrs: readonly string[];
}

export const isTunnelAnswer = (m: Mechanism | undefined): boolean => m !== undefined && TUNNEL_TYPES.includes(m.type);

/**
 * Why an endpoint's tunnel answer may not become a client's tunnel, or undefined when it may. The
 * tunnel must be of a type the forwarder offered, keep the client's end where the offer put it
 * (this node's underlay address), name no namespace or interface, carry its VNI (and port) or GRE
 * key, and point at an address that is not a node of the mesh nor an unspecified, loopback,
 * link-local or multicast one, and lies in the device ranges when the node has any: an endpoint
 * may send its clients' traffic to a device it stands for, never into the tunnels of other nodes.
 */
export function tunnelAnswerProblem(answer: Mechanism, offers: readonly Mechanism[], targets: TunnelTargets): string | undefined {
  const offer = offers.find((m) => m.type === answer.type && m.cls === 'REMOTE');
  if (!offer) return `it answered with a ${answer.type} tunnel, which the forwarder did not offer it (offered: ${offers.map((m) => m.type).join(', ') || 'none'})`;
  const named = [Keys.inodeURL, Keys.name, Keys.socketfile].find((k) => answer.parameters[k]);
  if (named) return `its ${answer.type} answer carries ${named}; a tunnel answer names no namespace, interface or socket`;
  const src = answer.parameters[Keys.srcIp];
  if (src !== offer.parameters[Keys.srcIp]) return `its ${answer.type} answer starts the tunnel at ${src || 'no address'}, not at ${offer.parameters[Keys.srcIp]} where the client's node offered it`;
  const id = answer.type === MechanismType.GRE ? Keys.greKey : Keys.vni;
  const missing = [id, ...(answer.type === MechanismType.VXLAN ? [Keys.dstPort] : [])].find((k) => !answer.parameters[k] || answer.parameters[k] === '0');
  if (missing) return `its ${answer.type} answer has no ${missing}`;
  const dst = answer.parameters[Keys.dstIp] ?? '';
  const family = isIP(dst);
  if (family === 0) return `its ${answer.type} answer has no ${Keys.dstIp} to point the tunnel at`;
  if (family !== isIP(src)) return `its ${answer.type} answer points from ${src} to ${dst}, an address of the other family`;
  if (SPECIAL.check(dst, family === 4 ? 'ipv4' : 'ipv6')) return `it points the tunnel at ${dst}, an unspecified, loopback, link-local or multicast address`;
  if (targets.meshNodes.has(dst)) return `it points the tunnel at ${dst}, a node of the mesh: an endpoint may point a client's tunnel only at a device outside the mesh`;
  if (targets.deviceCidrs.length > 0 && !targets.deviceCidrs.some((c) => inPrefix(c, dst))) {
    return `it points the tunnel at ${dst}, outside the addresses this node lets tunnels point at (NSM_EXTERNAL_DEVICE_CIDRS=${targets.deviceCidrs.join(',')})`;
  }
  return undefined;
}
