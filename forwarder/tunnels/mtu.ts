import { isIP } from 'node:net';

/** Bytes a tunnel adds to each inner frame on the underlay. */
export function tunnelOverhead(kind: 'VXLAN' | 'GRE', payload: 'ETHERNET' | 'IP', underlayIp: string): number {
  const outerIp = isIP(underlayIp) === 6 ? 40 : 20;
  if (kind === 'VXLAN') return outerIp + 8 + 8 + 14;
  const greHeaderWithKey = 8;
  return outerIp + greHeaderWithKey + (payload === 'ETHERNET' ? 14 : 0);
}

/** The largest MTU for the pods' interfaces so that nothing is fragmented on the underlay. */
export function tunnelMtu(underlayMtu: number, kind: 'VXLAN' | 'GRE', payload: 'ETHERNET' | 'IP', underlayIp: string): number {
  return underlayMtu - tunnelOverhead(kind, payload, underlayIp);
}
