import { readdir } from 'node:fs/promises';
import { Keys, MechanismType, type Connection, type NsUrl } from '../../proto/api.ts';
import type { Logger } from '../../sdk/log.ts';
import { interfaceConnectionId, readConnection } from './client.ts';
import { sameUrl } from './desired-services.ts';
import type { KeptSet } from './kept-set.ts';
import type { TokenClaims } from './sriov-tokens.ts';

export interface AdoptOptions {
  set: KeptSet;
  name: string;
  dir: string;
  /** The URLs the pod was created with (NSM_NETWORK_SERVICES) and the device tokens they claim from this container's env. */
  createdWith: readonly NsUrl[];
  claims: TokenClaims;
  log: Logger;
}

/** The NS URL an application's connection was asked for, from the connection file it left. */
function urlOf(conn: Connection, ifname: string): NsUrl {
  const { podName: _pod, ...labels } = conn.labels;
  return { mechanism: conn.mechanism?.type === MechanismType.MEMIF ? 'memif' : 'kernel', service: conn.networkService, ifname, labels };
}

/**
 * Starts keeping the annotation's `urls`, adopting the connection each left in the connections
 * directory (nsc init's, or this sidecar's before it restarted) when its id is the interface's;
 * the other connections of this client found there were asked for by applications of the pod
 * before a restart, and are kept for them.
 */
export async function adoptConnections(o: AdoptOptions, urls: readonly NsUrl[]): Promise<void> {
  for (const url of urls) {
    const id = interfaceConnectionId(o.name, o.createdWith, url.ifname);
    const saved = await readConnection(o.dir, url.ifname);
    const conn = saved?.id === id ? saved : undefined;
    const created = o.createdWith.findIndex((u) => sameUrl(u, url));
    // The kubelet gives the token to the container that asked for the resource (nsc init's);
    // this one reads it from the connection nsc init wrote, to heal with it.
    const token = (created >= 0 ? o.claims.tokens.get(created) : undefined) ?? conn?.mechanism?.parameters[Keys.tokenID];
    o.set.keep(url, id, { conn, token, origin: 'annotation' });
    if (conn) o.log.info({ connId: id, service: url.service }, 'adopting the connection nsc init made');
  }
  const files = await readdir(o.dir).catch(() => [] as string[]);
  for (const file of files.filter((f) => f.endsWith('.json'))) {
    const ifname = file.slice(0, -'.json'.length);
    if (urls.some((u) => u.ifname === ifname)) continue;
    const conn = await readConnection(o.dir, ifname);
    if (!conn || conn.id !== interfaceConnectionId(o.name, o.createdWith, ifname)) continue;
    o.set.keep(urlOf(conn, ifname), conn.id, { conn, origin: 'application' });
    o.log.info({ connId: conn.id, service: conn.networkService, ifname }, 'adopting a connection an application of the pod asked for');
  }
}
