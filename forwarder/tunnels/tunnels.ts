import { Cls, greMechanism, Keys, MechanismType, vxlanMechanism, type Mechanism } from '../../proto/api.ts';
import type { Supported } from '../../sdk/negotiate.ts';
import { greLinkType } from '../dataplane/tunnel.ts';
import { tunnelMtu } from './mtu.ts';
import type { LinkTypeSupport, TunnelLinkType } from './probe.ts';
import type { Underlay } from './underlay.ts';

export type TunnelType = typeof MechanismType.VXLAN | typeof MechanismType.GRE;
export const TUNNEL_TYPES: readonly TunnelType[] = [MechanismType.VXLAN, MechanismType.GRE];

/** Everything about this node's tunnels, fixed at start. */
export interface Tunnels {
  underlay: Underlay;
  vxlanPort: number;
  /** Tunnel types in the order this node offers them (NSM_MECHANISM_PRIORITY, then the rest). */
  order: readonly TunnelType[];
  linkTypes: Readonly<Partial<Record<TunnelLinkType, LinkTypeSupport>>>;
}

/** Upstream mechanismpriority: listed types first in list order (case-insensitive), the others after. */
export function tunnelOrder(priority: readonly string[]): TunnelType[] {
  const listed = priority.map((p) => p.toUpperCase()).filter((p): p is TunnelType => (TUNNEL_TYPES as readonly string[]).includes(p));
  return [...new Set([...listed, ...TUNNEL_TYPES])];
}

function linkTypeOf(type: TunnelType, payload: string): TunnelLinkType {
  return type === MechanismType.VXLAN ? 'vxlan' : greLinkType(payload);
}

/** Why this node cannot build `type` for `payload`; undefined when it can. */
export function whyNot(t: Tunnels, type: TunnelType, payload: string): string | undefined {
  const lt = linkTypeOf(type, payload);
  const s = t.linkTypes[lt];
  if (s?.available) return undefined;
  return `this kernel cannot create ${lt} links (${s?.reason ?? 'not probed'})`;
}

/** The REMOTE mechanisms the endpoint side can take (payload is checked when building). */
export function supportedTunnels(t: Tunnels): Supported[] {
  return t.order.filter((type) => !whyNot(t, type, 'ETHERNET') || !whyNot(t, type, 'IP')).map((type) => ({ type, cls: Cls.REMOTE }));
}

/**
 * The client side's offer: each buildable tunnel in order, with this node's half of the
 * parameters and the largest pod MTU its own underlay allows for it (`MTU`).
 */
export function tunnelOffers(t: Tunnels, payload: string): Mechanism[] {
  return t.order.filter((type) => !whyNot(t, type, payload)).map((type) => {
    const m = type === MechanismType.VXLAN ? vxlanMechanism({ srcIp: t.underlay.ip, srcPort: t.vxlanPort }) : greMechanism({ srcIp: t.underlay.ip });
    return { ...m, parameters: { ...m.parameters, [Keys.mtu]: String(podMtu(t, type, payload)) } };
  });
}

/** The pod interface MTU for `type` over this node's underlay. */
export function podMtu(t: Tunnels, type: TunnelType, payload: string): number {
  return tunnelMtu(t.underlay.mtu, type, payload === 'IP' ? 'IP' : 'ETHERNET', t.underlay.ip);
}
