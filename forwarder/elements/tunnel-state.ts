import { ConnectionContext, intParam, Keys, type Connection, type Mechanism } from '../../proto/api.ts';
import { metaKey } from '../../sdk/chain/metadata.ts';
import type { Ctx } from '../../sdk/chain/types.ts';
import { removeEnd, type AdoptionTable } from '../dataplane/adoption.ts';
import type { NetnsLookup } from '../dataplane/netns-resolver.ts';
import type { KernelRunner } from '../dataplane/runner.ts';
import type { Tunnels } from '../remote/tunnels.ts';
import type { VniAllocator } from '../remote/vni.ts';

/** One end of a tunnel this forwarder built for a connection. */
export interface TunnelState {
  ifname: string;
  netnsUrl: string;
  mechanism: Mechanism;
  mtu: number;
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
 * Takes over this end from a previous forwarder when it left one for `connId`, and marks its VNI
 * (or GRE key) taken, so a restarted forwarder never hands the same number out again.
 */
export function adoptTunnel(d: TunnelDeps, ctx: Ctx, connId: string, mech: Mechanism, element: string): boolean {
  if (!d.adoption?.claim(connId)) return false;
  const id = tunnelId(mech);
  if (id !== undefined) d.vnis.reserve(id);
  ctx.log.info({ element, connId }, 'adopted the tunnel of a previous forwarder');
  return true;
}

export function withMtu(conn: Connection, mtu: number): Connection {
  return { ...conn, context: ConnectionContext.fromPartial({ ...conn.context, MTU: mtu }) };
}

/** Removes this node's end of a connection's tunnel (or what a previous forwarder left) and frees its id. */
export async function removeTunnel(d: TunnelDeps, ctx: Ctx, connId: string): Promise<void> {
  const state = tunnelKey.delete(ctx);
  if (state) {
    const id = tunnelId(state.mechanism);
    if (id !== undefined) d.vnis.release(id);
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
