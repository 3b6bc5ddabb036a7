import { Keys, MechanismType, Payload, type Mechanism } from '../../proto/api.ts';
import { NsmError } from '../../sdk/errors.ts';
import { removeEnd } from './adoption.ts';
import type { AddGre, AddVxlan, KernelOp } from './kernel-op.ts';
import { addGre, addVxlan } from './ops.ts';
import { NODE_NETNS, type KernelRunner, type Netns } from './runner.ts';

/** What one end of a tunnel needs: the device's placement and the resolved tunnel parameters. */
export interface TunnelEnd {
  ifname: string;
  /** The pod namespace the device goes into; its underlay socket stays in the node's. */
  netns: Netns;
  local: string;
  remote: string;
  /** The node interface carrying the underlay. */
  underlayIf: string;
}

function required(m: Mechanism, key: string): string {
  const v = m.parameters[key];
  if (!v) throw new NsmError('INVALID_ARGUMENT', `${m.type} mechanism without ${key}: the peer forwarder did not complete the tunnel parameters`);
  return v;
}

/** The kernel link type a GRE mechanism becomes: gretap carries Ethernet frames, gre carries IP. */
export const greLinkType = (payload: string): 'gretap' | 'gre' => (payload === Payload.IP ? 'gre' : 'gretap');

function requiredNumber(m: Mechanism, key: string): number {
  const v = required(m, key);
  if (!/^\d{1,10}$/.test(v)) throw new NsmError('INVALID_ARGUMENT', `${m.type} mechanism parameter ${key}=${JSON.stringify(v)} is not a number`);
  return Number(v);
}

/**
 * The creation of one end, run in the node namespace: the device is created straight in the pod's
 * namespace (no move), so its UDP socket or GRE endpoint stays on the node's underlay.
 */
export function createTunnel(m: Mechanism, payload: string, end: TunnelEnd): AddVxlan | AddGre {
  const place = { name: end.ifname, ...(end.netns.path ? { netns: end.netns.path } : {}), local: end.local, remote: end.remote, underlay: end.underlayIf };
  if (m.type === MechanismType.VXLAN) return addVxlan({ ...place, vni: requiredNumber(m, Keys.vni), dstPort: requiredNumber(m, Keys.dstPort) });
  if (m.type === MechanismType.GRE) return addGre({ ...place, kind: greLinkType(payload), key: requiredNumber(m, Keys.greKey) });
  throw new NsmError('INVALID_ARGUMENT', `${m.type} is not a tunnel mechanism`);
}

/** The kernel refuses a second VXLAN device with a VNI already used on this node (whatever its remote). */
export function isVniTaken(err: unknown): boolean {
  return /VNI already exists|specified VNI/.test(String((err as Error)?.message ?? err));
}

/**
 * Creates one end in the pod's namespace, then names, sizes, addresses and raises it. A
 * configuration failure removes the device again.
 */
export async function programTunnelEnd(runner: KernelRunner, create: KernelOp, end: TunnelEnd, configure: KernelOp[]): Promise<void> {
  await runner.run(NODE_NETNS, [create]);
  try {
    await runner.run(end.netns, configure);
  } catch (err) {
    await removeEnd(runner, end.netns, end.ifname);
    throw err;
  }
}
