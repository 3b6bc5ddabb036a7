import { intParam, Keys, MechanismType, type Connection, type Mechanism } from '../../proto/api.ts';
import { closeQuietly, undoThenClose } from '../../sdk/chain/rollback.ts';
import type { Ctx, Element } from '../../sdk/chain/types.ts';
import { NsmError } from '../../sdk/errors.ts';
import { createTunnel, isVniTaken, programTunnelEnd } from '../dataplane/tunnel.ts';
import { configureEnd, endpointIfname } from '../dataplane/veth.ts';
import { podMtu, whyNot, type TunnelType } from '../remote/tunnels.ts';
import { clientMechanismKey } from './negotiate.ts';
import { adoptTunnel, removeTunnel, tunnelId, tunnelKey, withMtu, type TunnelDeps, type TunnelState } from './tunnel-state.ts';

const VNI_RETRIES = 4;

/** Adds this node's half of the parameters, the agreed MTU and a fresh tunnel id (upstream's even/odd rule). */
function complete(d: TunnelDeps, offered: Mechanism, mtu: number): Mechanism {
  const src = offered.parameters[Keys.srcIp];
  if (!src) throw new NsmError('INVALID_ARGUMENT', `${offered.type} offer without ${Keys.srcIp}: the peer forwarder must say where its tunnel starts`);
  const own = d.tunnels.underlay.ip;
  const id = d.vnis.allocate(src, own);
  const p: Record<string, string> = { ...offered.parameters, [Keys.dstIp]: own, [Keys.mtu]: String(mtu) };
  if (offered.type === MechanismType.VXLAN) Object.assign(p, { [Keys.dstPort]: String(d.tunnels.vxlanPort), [Keys.vni]: String(id) });
  else p[Keys.greKey] = String(id);
  return { ...offered, parameters: p };
}

/**
 * Endpoint side of a tunnel (the request came from a peer forwarder with a REMOTE mechanism):
 * completes the mechanism (dst_ip, dst_port, VNI or key), asks the local endpoint for KERNEL with
 * the tunnel MTU, then creates the device straight in the endpoint's namespace. A VNI the kernel
 * says is taken on this node is replaced a few times. Any failure closes the endpoint's side and
 * releases the id. A refresh changes nothing in the kernel.
 */
export function tunnelEndpoint(d: TunnelDeps): Element {
  /** Builds the device; `current.mechanism` follows any VNI it had to change. */
  async function build(ctx: Ctx, resp: Connection, current: { mechanism: Mechanism }, mtu: number): Promise<TunnelState> {
    const mech = current.mechanism;
    const url = resp.mechanism?.parameters[Keys.inodeURL];
    if (!url) throw new NsmError('FAILED_PRECONDITION', `endpoint ${resp.networkServiceEndpointName} answered without a KERNEL inodeURL, so there is no namespace to put the tunnel in`);
    const state: TunnelState = { ifname: endpointIfname(resp.id), netnsUrl: url, mechanism: mech, mtu };
    if (adoptTunnel(d, ctx, resp.id, mech, 'tunnel-endpoint')) return state;
    const netns = await d.resolver.resolve(url);
    const end = { ifname: state.ifname, netns, local: d.tunnels.underlay.ip, remote: mech.parameters[Keys.srcIp], underlayIf: d.tunnels.underlay.ifname };
    for (let attempt = 1; ; attempt++) {
      try {
        await programTunnelEnd(d.runner, createTunnel(current.mechanism, resp.payload, end), end, configureEnd(end.ifname, resp.id, mtu, resp.context?.ipContext, 'endpoint', d.adoption?.owner));
        return { ...state, mechanism: current.mechanism };
      } catch (err) {
        if (!isVniTaken(err) || attempt >= VNI_RETRIES) throw err;
        const taken = tunnelId(current.mechanism);
        current.mechanism = complete(d, mech, mtu);
        if (taken !== undefined) d.vnis.release(taken);
        ctx.log.info({ element: 'tunnel-endpoint', connId: resp.id, vni: taken }, 'VNI already used on this node; trying another');
      }
    }
  }

  return {
    name: 'tunnel-endpoint',
    async request(ctx, req, next) {
      const conn = req.connection!;
      const existing = tunnelKey.get(ctx);
      if (existing) return withMtu(await next.request(ctx, { ...req, connection: withMtu(conn, existing.mtu) }), existing.mtu);
      const offered = clientMechanismKey.get(ctx);
      if (!offered) throw new NsmError('INTERNAL', 'tunnel-endpoint needs negotiate before it');
      const type = offered.type as TunnelType;
      const why = whyNot(d.tunnels, type, conn.payload);
      if (why) throw new NsmError('FAILED_PRECONDITION', `cannot build ${type} for ${conn.payload || 'this'} payload here: ${why}`);
      const mtu = Math.min(podMtu(d.tunnels, type, conn.payload), intParam(offered, Keys.mtu) || Infinity);
      const reused = tunnelId(offered);
      const mech = reused === undefined ? complete(d, offered, mtu) : offered;
      if (reused !== undefined) d.vnis.reserve(reused);
      const resp = await next.request(ctx, { ...req, connection: withMtu(conn, mtu) }).catch((err: unknown) => {
        d.vnis.release(tunnelId(mech)!);
        throw err;
      });
      const current = { mechanism: mech };
      try {
        const state = await build(ctx, resp, current, mtu);
        clientMechanismKey.set(ctx, state.mechanism);
        tunnelKey.set(ctx, state);
        return withMtu(resp, mtu);
      } catch (err) {
        d.vnis.release(tunnelId(current.mechanism)!);
        await closeQuietly(ctx, 'tunnel-endpoint', next, resp);
        throw err;
      }
    },
    close: (ctx, conn, next) => undoThenClose(ctx, conn, next, () => removeTunnel(d, ctx, conn.id)),
  };
}
