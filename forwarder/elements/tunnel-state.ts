import { ConnectionContext, intParam, Keys, type Connection, type Mechanism } from '../../proto/api.ts';
import { metaKey } from '../../sdk/chain/metadata.ts';
import type { Ctx } from '../../sdk/chain/types.ts';
import { removeEnd, type AdoptionTable } from '../dataplane/adoption.ts';
import type { NetnsLookup } from '../dataplane/netns-resolver.ts';
import type { KernelRunner } from '../dataplane/runner.ts';
import type { Tunnels } from '../tunnels/tunnels.ts';
import type { VniAllocator, VniLease } from '../tunnels/vni.ts';

/** One end of a tunnel this forwarder built for a connection, and the VNI (or GRE key) it holds on this node. */
export interface TunnelState {
  ifname: string;
  netnsUrl: string;
  mechanism: Mechanism;
  mtu: number;
  lease?: VniLease;
}

export const tunnelKey = metaKey<TunnelState>('tunnel.end');

/** What both tunnel elements need. VNIs (and GRE keys) come from one allocator per node. */
export interface TunnelDeps {
  runner: KernelRunner;
  resolver: NetnsLookup;
  tunnels: Tunnels;
  vnis: VniAllocator;
  adoption?: AdoptionTable;
}

/** The number that must be unique on the node: the VNI of a VXLAN, the key of a GRE tunnel. */
export function tunnelId(m: Mechanism): number | undefined {
  return intParam(m, m.type === 'GRE' ? Keys.greKey : Keys.vni);
}

/**
 * Takes over this end from a previous forwarder when it left one for `connId`, holding its VNI
 * (or GRE key) so that a restarted forwarder never hands the same number out again: the lease
 * given, or one taken now. Undefined when there is nothing to adopt.
 */
export function adoptTunnel(d: TunnelDeps, ctx: Ctx, connId: string, mech: Mechanism, element: string, lease?: VniLease): { lease?: VniLease } | undefined {
  if (!d.adoption?.claim(connId)) return undefined;
  const id = tunnelId(mech);
  ctx.log.info({ element, connId }, 'adopted the tunnel of a previous forwarder');
  return { lease: lease ?? (id === undefined ? undefined : d.vnis.reserve(id)) };
}

export function withMtu(conn: Connection, mtu: number): Connection {
  return { ...conn, context: ConnectionContext.fromPartial({ ...conn.context, MTU: mtu }) };
}

/** Removes this node's end of a connection's tunnel (or what a previous forwarder left) and frees its id. */
export async function removeTunnel(d: TunnelDeps, ctx: Ctx, connId: string): Promise<void> {
  const state = tunnelKey.delete(ctx);
  if (state) {
    state.lease?.release();
    const netns = await d.resolver.find(state.netnsUrl);
    if (netns) await removeEnd(d.runner, netns, state.ifname);
  }
  for (const e of state ? [] : d.adoption?.claim(connId) ?? []) await removeEnd(d.runner, e.netns, e.ifname);
}

/** Tells the client which tunnel carries its connection: `tunnel` = type, `tunnel_<key>` = each parameter. */
export function withTunnelContext(conn: Connection, m: Mechanism): Connection {
  const extra: Record<string, string> = { ...conn.context?.extraContext, tunnel: m.type };
  for (const [k, v] of Object.entries(m.parameters)) extra[`tunnel_${k}`] = v;
  return { ...conn, context: ConnectionContext.fromPartial({ ...conn.context, extraContext: extra }) };
}
