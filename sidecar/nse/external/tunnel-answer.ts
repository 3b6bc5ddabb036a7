import { isIP } from 'node:net';
import { ConnectionContext, greMechanism, intParam, Keys, MechanismType, VXLAN_DEFAULT_PORT, vxlanMechanism, type Mechanism } from '../../../proto/api.ts';
import { closeThenRelease } from '../../../sdk/chain/rollback.ts';
import type { Element } from '../../../sdk/chain/types.ts';
import { NsmError } from '../../../sdk/errors.ts';
import type { TunnelIds } from './tunnel-ids.ts';

export type DeviceTunnelType = typeof MechanismType.VXLAN | typeof MechanismType.GRE;
export const DEVICE_TUNNEL_TYPES: readonly DeviceTunnelType[] = [MechanismType.VXLAN, MechanismType.GRE];

/** The device this endpoint stands for: its address on the underlay and the tunnels it terminates, in order. */
export interface Device {
  ip: string;
  mechanisms: readonly DeviceTunnelType[];
}

const idKey = (type: string) => (type === MechanismType.GRE ? Keys.greKey : Keys.vni);

/**
 * The offer to answer: on a refresh the type answered before, while it is still offered;
 * otherwise the first of the device's types that the client's forwarder offered.
 */
function chooseOffer(device: Device, previous: Mechanism | undefined, offers: readonly Mechanism[]): Mechanism {
  const offered = (type: string) => offers.find((m) => m.type === type && m.cls === 'REMOTE');
  const kept = previous && device.mechanisms.includes(previous.type as DeviceTunnelType) ? offered(previous.type) : undefined;
  const offer = kept ?? device.mechanisms.map(offered).find((m) => m !== undefined);
  if (!offer) {
    const got = offers.map((m) => `${m.type}/${m.cls}`).join(', ') || 'nothing';
    const hint = offers.some((m) => m.type === MechanismType.KERNEL) ? ' (a forwarder without peering, NSM_PEER_LISTEN_ON empty, has no underlay to reach a device from)' : '';
    throw new NsmError('FAILED_PRECONDITION', `this endpoint stands for an external device at ${device.ip}, which terminates ${device.mechanisms.join(', ')}; the forwarder offered ${got}${hint}`);
  }
  const src = offer.parameters[Keys.srcIp];
  if (!src) throw new NsmError('INVALID_ARGUMENT', `${offer.type} offer without ${Keys.srcIp}: the forwarder must say where the client's end of the tunnel is`);
  if (isIP(src) !== isIP(device.ip)) throw new NsmError('FAILED_PRECONDITION', `the client's node offers a tunnel from ${src}, but the device is at ${device.ip}, an address of the other IP family`);
  return offer;
}

/** The id a refresh carries from the answer given before, when that answer was a tunnel to this device. */
function previousId(previous: Mechanism | undefined, device: Device): number | undefined {
  if (!previous || previous.parameters[Keys.dstIp] !== device.ip) return undefined;
  try {
    return intParam(previous, idKey(previous.type));
  } catch {
    return undefined;
  }
}

function answer(offer: Mechanism, device: Device, id: number): Mechanism {
  const srcIp = offer.parameters[Keys.srcIp];
  const mtu = offer.parameters[Keys.mtu];
  const m = offer.type === MechanismType.VXLAN
    // The client's VXLAN device sends to dst_port and listens on it too, so the device uses the client node's port.
    ? vxlanMechanism({ srcIp, srcPort: intParam(offer, Keys.srcPort), dstIp: device.ip, dstPort: intParam(offer, Keys.srcPort) ?? VXLAN_DEFAULT_PORT, vni: id })
    : greMechanism({ srcIp, dstIp: device.ip, key: id });
  if (mtu) m.parameters[Keys.mtu] = mtu;
  return m;
}

/**
 * Answers with a tunnel whose far end is the device: the type the device prefers among those the
 * client's forwarder offered, the client's end where the forwarder said, a VNI (or GRE key)
 * unique among this endpoint's connections, and the MTU the forwarder offered for that tunnel. A
 * refresh keeps type and number (after an endpoint restart too). A failure below releases a new
 * number; Close releases it.
 */
export function tunnelAnswer(device: Device, ids: TunnelIds): Element {
  return {
    name: 'tunnel-answer',
    async request(ctx, req, next) {
      const conn = req.connection!;
      const offer = chooseOffer(device, conn.mechanism, req.mechanismPreferences);
      const fresh = !ids.has(conn.id);
      const mechanism = answer(offer, device, ids.allocate(conn.id, previousId(conn.mechanism, device)));
      const offeredMtu = intParam(offer, Keys.mtu) ?? 0;
      const mtu = Math.min(offeredMtu || Infinity, conn.context?.MTU || Infinity);
      const context = ConnectionContext.fromPartial({ ...conn.context, MTU: Number.isFinite(mtu) ? mtu : 0 });
      try {
        return await next.request(ctx, { ...req, connection: { ...conn, mechanism, context } });
      } catch (err) {
        if (fresh) ids.release(conn.id);
        throw err;
      }
    },
    close: (ctx, conn, next) => closeThenRelease(ctx, conn, next, () => ids.release(conn.id)),
  };
}
