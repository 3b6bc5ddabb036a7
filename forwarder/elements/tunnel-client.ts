import { Keys, type Connection, type Mechanism } from '../../proto/api.ts';
import { afterNextOrClose, doNextOrUndo, undoThenClose } from '../../sdk/chain/rollback.ts';
import type { Ctx, Element } from '../../sdk/chain/types.ts';
import { NsmError } from '../../sdk/errors.ts';
import { endOps } from '../dataplane/end.ts';
import { createTunnel, isVniTaken, programTunnelEnd } from '../dataplane/tunnel.ts';
import { podMtu, tunnelOffers, TUNNEL_TYPES, whyNot, type TunnelType } from '../tunnels/tunnels.ts';
import { clientMechanism, NEGOTIATED } from './negotiate.ts';
import { adoptTunnel, removeTunnel, tunnelId, tunnelKey, withMtu, withTunnelContext, type TunnelDeps, type TunnelState } from './tunnel-state.ts';

/** How often a whole remote request is repeated when another node handed out a VNI already used here. */
export const REMOTE_ATTEMPTS = 3;

/**
 * Client side of a tunnel (the chosen endpoint is on another node, or stands for an external
 * device): offers the tunnels this node can build with its half of the parameters (mechanism
 * translation: the client's KERNEL stays here), then creates the device in the client's namespace
 * from the answer, towards the peer forwarder or the device. When the VNI is already used on this
 * node, the far side is closed and the request is repeated, so it allocates another. A refresh
 * changes nothing in the kernel.
 */
export function tunnelClient(d: TunnelDeps): Element {
  async function build(ctx: Ctx, resp: Connection, kernel: Mechanism): Promise<TunnelState> {
    const mech = resp.mechanism;
    if (!mech || !(TUNNEL_TYPES as readonly string[]).includes(mech.type)) {
      throw new NsmError('FAILED_PRECONDITION', `${resp.networkServiceEndpointName || 'the far side'} answered with mechanism ${mech?.type ?? 'none'}, not one of the tunnels offered`);
    }
    // Never above what this node's underlay carries unfragmented, whatever the far side answered.
    const mtu = Math.min(resp.context?.MTU || Infinity, podMtu(d.tunnels, mech.type as TunnelType, resp.payload));
    const state: TunnelState = { ifname: kernel.parameters[Keys.name], netnsUrl: kernel.parameters[Keys.inodeURL], mechanism: mech, mtu };
    const adopted = adoptTunnel(d, ctx, resp.id, mech, 'tunnel-client');
    if (adopted) return { ...state, lease: adopted.lease };
    const id = tunnelId(mech);
    const lease = id === undefined ? undefined : d.vnis.reserve(id);
    if (id !== undefined && !lease) throw new NsmError('ALREADY_EXISTS', `A VXLAN device with the specified VNI already exists (VNI ${id} is in use on this node)`);
    return doNextOrUndo(ctx, 'tunnel-client', async () => lease, async () => {
      const netns = await d.resolver.resolve(state.netnsUrl);
      const end = { ifname: state.ifname, netns, local: d.tunnels.underlay.ip, remote: mech.parameters[Keys.dstIp], underlayIf: d.tunnels.underlay.ifname };
      try {
        await programTunnelEnd(d.runner, createTunnel(mech, resp.payload, end), end, endOps(end.ifname, resp.id, state.mtu, resp.context, 'client', d.adoption?.owner ?? '', kernel));
      } catch (err) {
        if (err instanceof NsmError && err.code === 'ALREADY_EXISTS' && !isVniTaken(err)) {
          throw new NsmError('ALREADY_EXISTS', `interface ${state.ifname} already exists in the client's network namespace: choose another interface name in the NS URL`, { cause: err });
        }
        throw err;
      }
      return { ...state, lease };
    }, async (l) => l?.release());
  }

  return {
    name: 'tunnel-client',
    needs: ['metadata', NEGOTIATED],
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
      const kernel = clientMechanism(ctx);
      for (let attempt = 1; ; attempt++) {
        try {
          return await afterNextOrClose(ctx, 'tunnel-client', next, outgoing(conn), async (resp) => {
            const state = await build(ctx, resp, kernel);
            tunnelKey.set(ctx, state);
            return withTunnelContext(resp, state.mechanism);
          });
        } catch (err) {
          if (!isVniTaken(err) || attempt >= REMOTE_ATTEMPTS) throw err;
          ctx.log.info({ element: 'tunnel-client', connId: conn.id }, 'VNI already used on this node; asking the far side again');
        }
      }
    },
    close: (ctx, conn, next) => undoThenClose(ctx, conn, next, () => removeTunnel(d, ctx, conn.id)),
  };
}
