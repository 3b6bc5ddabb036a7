import { MechanismType } from '../../proto/api.ts';
import { NsmError } from '../../sdk/errors.ts';
import { isSameNode } from './same-node.ts';

export interface EndpointSide {
  name: string;
  /** Registered URL: a unix (or inode) socket is an endpoint on this node, anything else is reached through another node. */
  url: string;
  /** The endpoint registered a memif socket (MEMIF_ENDPOINT_LABEL). */
  memif: boolean;
}

/**
 * The client-side mechanism for a client that offered MEMIF, in the client's order of preference:
 * MEMIF when the endpoint is on this node and has a memif socket, KERNEL whenever offered (a veth
 * pair on this node, a tunnel to another). Neither possible is FAILED_PRECONDITION naming the side
 * that lacks what.
 */
export function decideLocalMechanism(offered: readonly string[], ep: EndpointSide): 'MEMIF' | 'KERNEL' {
  const sameNode = isSameNode(ep.url);
  for (const type of offered) {
    if (type === MechanismType.KERNEL) return MechanismType.KERNEL;
    if (type === MechanismType.MEMIF && sameNode && ep.memif) return MechanismType.MEMIF;
  }
  if (!offered.includes(MechanismType.MEMIF)) {
    throw new NsmError('FAILED_PRECONDITION', `the client offered neither MEMIF nor KERNEL (offered: ${offered.join(', ') || 'none'})`);
  }
  const orKernel = 'or offer KERNEL as well (memif://<service>/<name>?fallback=kernel)';
  if (!sameNode) {
    const alsoNoMemif = ep.memif ? '' : ', and it registered no memif socket either';
    throw new NsmError('FAILED_PRECONDITION', `the client offered only MEMIF, but endpoint "${ep.name}" is on another node (${ep.url})${alsoNoMemif}: memif between nodes needs a packet-processing dataplane (such as VPP) that this forwarder does not have; run the client on the endpoint's node, ${orKernel} to get a tunnel`);
  }
  throw new NsmError('FAILED_PRECONDITION', `the client offered only MEMIF, but endpoint "${ep.name}" has no memif socket (it registered without NSM_MEMIF_SOCKET): give the endpoint NSM_MEMIF_SOCKET, ${orKernel} to get a veth pair`);
}
