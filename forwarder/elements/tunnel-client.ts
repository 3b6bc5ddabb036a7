import { Keys, type Connection, type Mechanism } from '../../proto/api.ts';
import { closeQuietly, undoThenClose } from '../../sdk/chain/rollback.ts';
import type { Ctx, Element } from '../../sdk/chain/types.ts';
import { NsmError } from '../../sdk/errors.ts';
import { createTunnel, isVniTaken, programTunnelEnd } from '../dataplane/tunnel.ts';
import { configureEnd } from '../dataplane/veth.ts';
import { tunnelOffers, TUNNEL_TYPES, whyNot } from '../remote/tunnels.ts';
import { clientMechanismKey } from './negotiate.ts';
import { adoptTunnel, removeTunnel, tunnelId, tunnelKey, withMtu, withTunnelContext, type TunnelDeps, type TunnelState } from './tunnel-state.ts';

/** How often a whole remote request is repeated when another node handed out a VNI already used here. */
export const REMOTE_ATTEMPTS = 3;

/**
 * Client side of a tunnel (the chosen endpoint is on another node): offers the tunnels this node
 * can build with its half of the parameters (mechanism translation: the client's KERNEL stays
 * here), then creates the device in the client's namespace from the peer's answer. When the
 * kernel says the VNI is already used on this node, the peer's side is closed and the request is
 * repeated, so the peer allocates another. A refresh changes nothing in the kernel.
 */
export function tunnelClient(d: TunnelDeps): Element {
  async function build(ctx: Ctx, resp: Connection, kernel: Mechanism): Promise<TunnelState> {
    const mech = resp.mechanism;
    if (!mech || !(TUNNEL_TYPES as readonly string[]).includes(mech.type)) {
      throw new NsmError('FAILED_PRECONDITION', `peer forwarder answered with mechanism ${mech?.type ?? 'none'}, not one of the tunnels offered`);
    }
    const state: TunnelState = { ifname: kernel.parameters[Keys.name], netnsUrl: kernel.parameters[Keys.inodeURL], mechanism: mech, mtu: resp.context?.MTU ?? 0 };
    if (adoptTunnel(d, ctx, resp.id, mech, 'tunnel-client')) return state;
    const id = tunnelId(mech);
    if (id !== undefined && !d.vnis.reserve(id)) throw new NsmError('ALREADY_EXISTS', `A VXLAN device with the specified VNI already exists (VNI ${id} is in use on this node)`);
    try {
      const netns = await d.resolver.resolve(state.netnsUrl);
      const end = { ifname: state.ifname, netns, local: d.tunnels.underlay.ip, remote: mech.parameters[Keys.dstIp], underlayIf: d.tunnels.underlay.ifname };
      await programTunnelEnd(d.runner, createTunnel(mech, resp.payload, end), end, configureEnd(end.ifname, resp.id, state.mtu, resp.context?.ipContext, 'client', d.adoption?.owner));
    } catch (err) {
      if (id !== undefined) d.vnis.release(id);
      if (err instanceof NsmError && err.code === 'ALREADY_EXISTS' && !isVniTaken(err)) {
        throw new NsmError('ALREADY_EXISTS', `interface ${state.ifname} already exists in the client's network namespace: choose another interface name in the NS URL`, { cause: err });
      }
      throw err;
    }
    return state;
  }

  return {
    name: 'tunnel-client',
    async request(ctx, req, next) {
      const conn = req.connection!;
      const offers = tunnelOffers(d.tunnels, conn.payload);
      if (offers.length === 0) {
        const reasons = TUNNEL_TYPES.map((t) => `${t}: ${whyNot(d.tunnels, t, conn.payload)}`).join('; ');
        throw new NsmError('FAILED_PRECONDITION', `the endpoint is on another node and this node can build no tunnel for ${conn.payload} payload (${reasons})`);
      }
      const existing = tunnelKey.get(ctx);
      const outgoing = (c: Connection) => ({ connection: existing ? withMtu(c, existing.mtu) : c, mechanismPreferences: offers });
      if (existing) return withTunnelContext(await next.request(ctx, outgoing(conn)), existing.mechanism);
      const kernel = clientMechanismKey.get(ctx);
      if (!kernel) throw new NsmError('INTERNAL', 'tunnel-client needs negotiate before it');
      for (let attempt = 1; ; attempt++) {
        const resp = await next.request(ctx, outgoing(conn));
        try {
          const state = await build(ctx, resp, kernel);
          tunnelKey.set(ctx, state);
          return withTunnelContext(resp, state.mechanism);
        } catch (err) {
          await closeQuietly(ctx, 'tunnel-client', next, resp);
          if (!isVniTaken(err) || attempt >= REMOTE_ATTEMPTS) throw err;
          ctx.log.info({ element: 'tunnel-client', connId: resp.id, vni: resp.mechanism?.parameters[Keys.vni] }, 'VNI already used on this node; asking the peer again');
        }
      }
    },
    close: (ctx, conn, next) => undoThenClose(ctx, conn, next, () => removeTunnel(d, ctx, conn.id)),
  };
}
