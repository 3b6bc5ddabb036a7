import type { Mechanism, NetworkServiceEndpoint } from './api.ts';
import { intParam, Keys, memifMechanism, MechanismType } from './mechanisms.ts';

/**
 * The label an endpoint puts on each of its services when its application listens as memif server
 * (`nsm nse` with NSM_MEMIF_SOCKET). Forwarders read it to decide for the memif shortcut.
 */
export const MEMIF_ENDPOINT_LABEL = 'networkservicemesh.io/memif';

/** Our MEMIF parameters beside upstream's `socketfile`: who may open the socket the client is handed. */
export const MemifOwnerKeys = { uid: 'uid', gid: 'gid' } as const;

export interface MemifOwner {
  uid?: number;
  gid?: number;
}

export function offersMemif(nse: NetworkServiceEndpoint, service: string): boolean {
  return nse.networkServiceLabels[service]?.labels[MEMIF_ENDPOINT_LABEL] === 'true';
}

/** A client's MEMIF preference, naming the uid/gid its application runs as. */
export function memifOffer(owner: MemifOwner): Mechanism {
  const m = memifMechanism();
  if (owner.uid !== undefined) m.parameters[MemifOwnerKeys.uid] = String(owner.uid);
  if (owner.gid !== undefined) m.parameters[MemifOwnerKeys.gid] = String(owner.gid);
  return m;
}

export function memifOwnerOf(m: Mechanism): MemifOwner {
  return { uid: intParam(m, MemifOwnerKeys.uid), gid: intParam(m, MemifOwnerKeys.gid) };
}

/** Socket and interface id of an answered MEMIF mechanism, or undefined when either is missing. */
export function memifEndpointOf(m: Mechanism | undefined): { socketfile: string; id: number } | undefined {
  if (m?.type !== MechanismType.MEMIF) return undefined;
  const socketfile = m.parameters[Keys.socketfile];
  const id = intParam(m, Keys.memifId);
  return socketfile && id !== undefined ? { socketfile, id } : undefined;
}
