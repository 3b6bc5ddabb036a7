import { createHash } from 'node:crypto';
import type { IPContext } from '../../proto/api.ts';
import { ipContextOps, type Side } from './ipcontext.ts';
import type { AddVeth, DeleteGroup, KernelOp, SetLink } from './kernel-op.ts';
import { addVeth, deleteGroup, setLink } from './ops.ts';
import type { Netns } from './runner.ts';

/** Link group of every interface the forwarder owns, and the group links move to just before deletion. */
export const NSM_LINK_GROUP = 7780;
export const DOOMED_LINK_GROUP = 7781;
export const ALIAS_PREFIX = 'nsm:';

/**
 * `nsm:<owner>:<connId>`: the owner is the forwarder's name, so forwarders sharing a host (a
 * multi-node sandbox, parallel tests) never take over or delete each other's interfaces.
 */
export const ownerPrefix = (owner: string) => (owner ? `${ALIAS_PREFIX}${owner}:` : ALIAS_PREFIX);
export const aliasOf = (connId: string, owner = '') => `${ownerPrefix(owner)}${connId}`;

/** The endpoint-side name: derived from the connection id so a restarted forwarder computes it again. */
export function endpointIfname(connId: string): string {
  return `nsm${createHash('sha256').update(connId).digest('hex').slice(0, 10)}`;
}

/** Run in the endpoint's namespace: its end stays there, the peer goes straight into the client's. */
export function createPair(endpointIf: string, clientIf: string, client: Netns): AddVeth {
  return addVeth({ name: endpointIf, peer: clientIf, peerNetns: client.path });
}

/** Names the end after its connection (alias and group), sizes it, gives it its MAC, raises and addresses it. */
export function configureEnd(ifname: string, connId: string, mtu: number, ip: IPContext | undefined, side: Side, owner = '', mac?: string): KernelOp[] {
  const named = setLink({ name: ifname, alias: aliasOf(connId, owner), group: NSM_LINK_GROUP, ...(mtu > 0 ? { mtu } : {}), ...(mac ? { mac } : {}), up: true });
  return [named, ...ipContextOps(ifname, ip, side)];
}

/**
 * Deleting one end removes the pair; the doomed group lets one batch delete many pairs at once.
 * No `down` first: the bulk delete closes all its links together, where a `down` per link would
 * close them one at a time.
 */
export function deleteEnd(ifname: string): { ops: SetLink[]; finally: DeleteGroup[] } {
  return { ops: [setLink({ name: ifname, group: DOOMED_LINK_GROUP })], finally: [deleteGroup(DOOMED_LINK_GROUP)] };
}
