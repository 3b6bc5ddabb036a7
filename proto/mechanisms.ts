import type { Mechanism } from './gen/networkservice/connection.ts';

export const Cls = { LOCAL: 'LOCAL', REMOTE: 'REMOTE' } as const;
export type Cls = (typeof Cls)[keyof typeof Cls];

export const MechanismType = { KERNEL: 'KERNEL', MEMIF: 'MEMIF', VXLAN: 'VXLAN', GRE: 'GRE' } as const;
export type MechanismType = (typeof MechanismType)[keyof typeof MechanismType];

export const Payload = { ETHERNET: 'ETHERNET', IP: 'IP' } as const;
export type Payload = (typeof Payload)[keyof typeof Payload];

/**
 * Parameter keys as upstream spells them (api: mechanisms/common, kernel, memif, vxlan); GRE is
 * ours, and so are KERNEL's `bridge` (the bridge, in the namespace the mechanism names, that this
 * end becomes a port of) and `isolated` (`true`: that port is isolated, for split horizon).
 */
export const Keys = {
  name: 'name',
  inodeURL: 'inodeURL',
  socketfile: 'socketfile',
  memifId: 'id',
  srcIp: 'src_ip',
  dstIp: 'dst_ip',
  srcPort: 'src_port',
  dstPort: 'dst_port',
  vni: 'vni',
  greKey: 'key',
  mtu: 'MTU',
  /** The device-pool token a client claims (upstream common.DeviceTokenIDKey). */
  tokenID: 'tokenID',
  bridge: 'bridge',
  isolated: 'isolated',
} as const;

export const VXLAN_DEFAULT_PORT = 4789;
export const LINUX_IFNAME_MAX = 15;

export interface KernelParams { name?: string; inodeURL?: string; bridge?: string; isolated?: boolean }
export interface MemifParams { socketfile?: string; id?: number }
export interface VxlanParams { srcIp?: string; dstIp?: string; srcPort?: number; dstPort?: number; vni?: number }
export interface GreParams { srcIp?: string; dstIp?: string; key?: number }

function mechanism(cls: Cls, type: MechanismType, entries: Array<[string, string | number | undefined]>): Mechanism {
  const parameters: Record<string, string> = {};
  for (const [key, value] of entries) if (value !== undefined && value !== '') parameters[key] = String(value);
  return { cls, type, parameters };
}

export function kernelMechanism(p: KernelParams = {}): Mechanism {
  return mechanism(Cls.LOCAL, MechanismType.KERNEL, [
    [Keys.name, p.name], [Keys.inodeURL, p.inodeURL], [Keys.bridge, p.bridge], [Keys.isolated, p.isolated ? 'true' : undefined],
  ]);
}

/** A KERNEL end that joins a bridge: the bridge's name, and whether its port is isolated. */
export interface BridgePort {
  bridge: string;
  isolated: boolean;
}

/** The bridge a KERNEL mechanism asks its end to join; undefined for an end of its own. */
export function bridgePortOf(m: Mechanism | undefined): BridgePort | undefined {
  const bridge = m?.type === MechanismType.KERNEL ? m.parameters[Keys.bridge] : undefined;
  return bridge ? { bridge, isolated: m!.parameters[Keys.isolated] === 'true' } : undefined;
}

export function memifMechanism(p: MemifParams = {}): Mechanism {
  return mechanism(Cls.LOCAL, MechanismType.MEMIF, [[Keys.socketfile, p.socketfile], [Keys.memifId, p.id]]);
}

export function vxlanMechanism(p: VxlanParams = {}): Mechanism {
  return mechanism(Cls.REMOTE, MechanismType.VXLAN, [
    [Keys.srcIp, p.srcIp], [Keys.dstIp, p.dstIp], [Keys.srcPort, p.srcPort], [Keys.dstPort, p.dstPort], [Keys.vni, p.vni],
  ]);
}

export function greMechanism(p: GreParams = {}): Mechanism {
  return mechanism(Cls.REMOTE, MechanismType.GRE, [[Keys.srcIp, p.srcIp], [Keys.dstIp, p.dstIp], [Keys.greKey, p.key]]);
}

export function isMechanism(m: Mechanism | undefined, type: MechanismType): m is Mechanism {
  return m !== undefined && m.type === type;
}

/** Reads an integer parameter; undefined when absent, an Error naming the key when not an integer. */
export function intParam(m: Mechanism, key: string): number | undefined {
  const raw = m.parameters[key];
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw)) throw new Error(`mechanism ${m.type} parameter ${key}=${JSON.stringify(raw)} is not a non-negative integer`);
  return Number(raw);
}
