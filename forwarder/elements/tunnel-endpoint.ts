import { intParam, Keys, MechanismType, type Connection, type Mechanism } from '../../proto/api.ts';
import { afterNextOrClose, doNextOrUndo, undoThenClose } from '../../sdk/chain/rollback.ts';
import type { Ctx, Element } from '../../sdk/chain/types.ts';
import { NsmError } from '../../sdk/errors.ts';
import { removeEnd } from '../dataplane/adoption.ts';
import { endOps } from '../dataplane/end.ts';
import { createTunnel, isVniTaken, programTunnelEnd } from '../dataplane/tunnel.ts';
import { endpointIfname } from '../dataplane/veth.ts';
import { podMtu, whyNot, type TunnelType } from '../tunnels/tunnels.ts';
import type { VniLease } from '../tunnels/vni.ts';
import { clientMechanism, negotiation, NEGOTIATED } from './negotiate.ts';
import { adoptTunnel, removeTunnel, tunnelId, tunnelKey, withMtu, type TunnelDeps, type TunnelState } from './tunnel-state.ts';

const VNI_RETRIES = 4;

/** A mechanism completed with this node's half, and the lease on its VNI (or key). */
interface Completed {
  mechanism: Mechanism;
  lease: VniLease;
}

/** Adds this node's half of the parameters, the agreed MTU and a fresh tunnel id (upstream's even/odd rule). */
function complete(d: TunnelDeps, offered: Mechanism, mtu: number): Completed {
  const src = offered.parameters[Keys.srcIp];
  if (!src) throw new NsmError('INVALID_ARGUMENT', `${offered.type} offer without ${Keys.srcIp}: the peer forwarder must say where its tunnel starts`);
  const own = d.tunnels.underlay.ip;
  const lease = d.vnis.allocate(src, own);
  const p: Record<string, string> = { ...offered.parameters, [Keys.dstIp]: own, [Keys.mtu]: String(mtu) };
  if (offered.type === MechanismType.VXLAN) Object.assign(p, { [Keys.dstPort]: String(d.tunnels.vxlanPort), [Keys.vni]: String(lease.vni) });
  else p[Keys.greKey] = String(lease.vni);
  return { mechanism: { ...offered, parameters: p }, lease };
}

/** The offer as it comes: a fresh completion, or (a refresh after a restart) the one it already carries, its number held again. */
function completion(d: TunnelDeps, offered: Mechanism, mtu: number): Completed {
  const reused = tunnelId(offered);
  if (reused === undefined) return complete(d, offered, mtu);
  const lease = d.vnis.reserve(reused);
  if (!lease) throw new NsmError('ALREADY_EXISTS', `A VXLAN device with the specified VNI already exists (VNI ${reused} is in use on this node)`);
  return { mechanism: offered, lease };
}

/**
 * Endpoint side of a tunnel (the request came from a peer forwarder with a REMOTE mechanism):
 * completes the mechanism (dst_ip, dst_port, VNI or key), asks the local endpoint for KERNEL with
 * the tunnel MTU, then creates the device straight in the endpoint's namespace. A VNI the kernel
 * says is taken on this node is replaced a few times. Any failure closes the endpoint's side and
 * releases the lease (each lease once: the one held when it failed). A refresh changes nothing in
 * the kernel, unless the endpoint answers from another network namespace (it was recreated): the
 * device is made again there, same tunnel.
 */
export function tunnelEndpoint(d: TunnelDeps): Element {
  /** The end of `state` made again in the namespace the endpoint now answers from. */
  async function rebuild(ctx: Ctx, state: TunnelState, resp: Connection, url: string): Promise<void> {
    ctx.log.info({ element: 'tunnel-endpoint', connId: resp.id, was: state.netnsUrl, now: url }, 'the endpoint answers from another network namespace; making its tunnel end anew');
    const old = await d.resolver.find(state.netnsUrl);
    if (old) await removeEnd(d.runner, old, state.ifname);
    const netns = await d.resolver.resolve(url);
    const end = { ifname: state.ifname, netns, local: d.tunnels.underlay.ip, remote: state.mechanism.parameters[Keys.srcIp], underlayIf: d.tunnels.underlay.ifname };
    await programTunnelEnd(d.runner, createTunnel(state.mechanism, resp.payload, end), end, endOps(end.ifname, resp.id, state.mtu, resp.context, 'endpoint', d.adoption?.owner ?? '', resp.mechanism));
    state.netnsUrl = url;
  }

  /** Builds the device; `held` follows any VNI it had to change. */
  async function build(ctx: Ctx, resp: Connection, held: Completed, offered: Mechanism, mtu: number): Promise<TunnelState> {
    const url = resp.mechanism?.parameters[Keys.inodeURL];
    if (!url) throw new NsmError('FAILED_PRECONDITION', `endpoint ${resp.networkServiceEndpointName} answered without a KERNEL inodeURL, so there is no namespace to put the tunnel in`);
    const state = (c: Completed): TunnelState => ({ ifname: endpointIfname(resp.id), netnsUrl: url, mechanism: c.mechanism, mtu, lease: c.lease });
    if (adoptTunnel(d, ctx, resp.id, held.mechanism, 'tunnel-endpoint', held.lease)) return state(held);
    const netns = await d.resolver.resolve(url);
    const end = { ifname: endpointIfname(resp.id), netns, local: d.tunnels.underlay.ip, remote: held.mechanism.parameters[Keys.srcIp], underlayIf: d.tunnels.underlay.ifname };
    for (let attempt = 1; ; attempt++) {
      try {
        await programTunnelEnd(d.runner, createTunnel(held.mechanism, resp.payload, end), end, endOps(end.ifname, resp.id, mtu, resp.context, 'endpoint', d.adoption?.owner ?? '', resp.mechanism));
        return state(held);
      } catch (err) {
        if (!isVniTaken(err) || attempt >= VNI_RETRIES) throw err;
        const taken = held.lease.vni;
        const fresh = complete(d, offered, mtu);
        held.lease.release();
        Object.assign(held, fresh);
        ctx.log.info({ element: 'tunnel-endpoint', connId: resp.id, vni: taken }, 'VNI already used on this node; trying another');
      }
    }
  }

  return {
    name: 'tunnel-endpoint',
    needs: ['metadata', NEGOTIATED],
    async request(ctx, req, next) {
      const conn = req.connection!;
      const existing = tunnelKey.get(ctx);
      if (existing) {
        const resp = await next.request(ctx, { ...req, connection: withMtu(conn, existing.mtu) });
        const url = resp.mechanism?.parameters[Keys.inodeURL];
        if (url && url !== existing.netnsUrl) await rebuild(ctx, existing, resp, url);
        return withMtu(resp, existing.mtu);
      }
      const offered = clientMechanism(ctx);
      const type = offered.type as TunnelType;
      const why = whyNot(d.tunnels, type, conn.payload);
      if (why) throw new NsmError('FAILED_PRECONDITION', `cannot build ${type} for ${conn.payload || 'this'} payload here: ${why}`);
      const mtu = Math.min(podMtu(d.tunnels, type, conn.payload), intParam(offered, Keys.mtu) || Infinity);
      return doNextOrUndo(ctx, 'tunnel-endpoint',
        async () => completion(d, offered, mtu),
        (held) => afterNextOrClose(ctx, 'tunnel-endpoint', next, { ...req, connection: withMtu(conn, mtu) }, async (resp) => {
          const state = await build(ctx, resp, held, offered, mtu);
          negotiation.complete(ctx, state.mechanism);
          tunnelKey.set(ctx, state);
          return withMtu(resp, mtu);
        }),
        async (held) => held.lease.release());
    },
    close: (ctx, conn, next) => undoThenClose(ctx, conn, next, () => removeTunnel(d, ctx, conn.id)),
  };
}
