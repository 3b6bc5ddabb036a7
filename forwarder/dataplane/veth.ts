import { createHash } from 'node:crypto';
import type { IPContext } from '../../proto/api.ts';
import { ipContextCommands, type Side } from './ipcontext.ts';
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
export function createPairCommand(endpointIf: string, clientIf: string, client: Netns): string {
  return `link add ${endpointIf} type veth peer name ${clientIf} netns ${client.path}`;
}

export function configureEndCommands(ifname: string, connId: string, mtu: number, ip: IPContext | undefined, side: Side, owner = ''): string[] {
  const mtuPart = mtu > 0 ? ` mtu ${mtu}` : '';
  return [`link set dev ${ifname} alias ${aliasOf(connId, owner)} group ${NSM_LINK_GROUP}${mtuPart} up`, ...ipContextCommands(ifname, ip, side)];
}

/**
 * Deleting one end removes the pair; the doomed group lets one batch delete many pairs at once.
 * No `down` first: the bulk delete closes all its links together, where a `down` per link would
 * close them one at a time.
 */
export function deleteEnd(ifname: string): { commands: string[]; finally: string[] } {
  return { commands: [`link set dev ${ifname} group ${DOOMED_LINK_GROUP}`], finally: [`link del group ${DOOMED_LINK_GROUP}`] };
}
