import { readdirSync } from 'node:fs';
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { formatNsUrl, Keys, MechanismType, NetworkServiceDefinition, NsUrlError, parseNsUrl, type Connection, type NetworkServiceRequest, type NsUrl } from '../../proto/api.ts';
import { requestProblem } from '../../proto/validate/connection.ts';
import { NsmError } from '../../sdk/errors.ts';
import { refuseProblem, unaryHandler } from '../../sdk/grpc/networkservice-server.ts';
import type { ServiceBinding } from '../../sdk/grpc/server.ts';
import type { Logger } from '../../sdk/log.ts';
import { firstRequest, interfaceConnectionId, requestWithRetry, waitInterfaceUp, writeConnection, type Dialer } from './client.ts';
import type { KeptSet } from './kept-set.ts';
import { FALLBACK_OPTION } from './preferences.ts';

export interface ClientApiOptions {
  set: KeptSet;
  /** The client name (NSM_NAME) and the URLs the pod was created with, which the connection ids derive from. */
  name: string;
  createdWith: readonly NsUrl[];
  /** The annotation that names the pod's own connections, for the errors about them. */
  annotation: string;
  dial: Dialer;
  dir: string;
  requestTimeoutMs: number;
  log: Logger;
}

/** The interfaces of this network namespace (those without an address too). */
function kernelInterfaces(): string[] {
  try {
    return readdirSync('/sys/class/net');
  } catch {
    return [];
  }
}

const freeName = (taken: Set<string>) => {
  let i = 1;
  while (taken.has(`nsm-${i}`)) i++;
  return `nsm-${i}`;
};

/**
 * What an application's Request asks for, as an NS URL: its service and labels; MEMIF when it
 * offers MEMIF (falling back to KERNEL when it offers that after), else KERNEL; the interface name
 * its KERNEL preference names, or the first free `nsm-<n>`.
 */
function applicationUrl(req: NetworkServiceRequest, taken: Set<string>): NsUrl {
  const c = req.connection!;
  const types = req.mechanismPreferences.map((m) => m.type);
  const memif = types.indexOf(MechanismType.MEMIF);
  const kernel = types.indexOf(MechanismType.KERNEL);
  const named = req.mechanismPreferences.find((m) => m.type === MechanismType.KERNEL && m.parameters[Keys.name])?.parameters[Keys.name];
  const ifname = named ?? freeName(taken);
  if (taken.has(ifname)) throw new NsmError('INVALID_ARGUMENT', `interface name ${ifname} is already used in this pod; name another in the KERNEL mechanism preference's "name" parameter, or leave it out to get a free one`);
  const { podName: _pod, ...labels } = c.labels;
  if (memif >= 0 && kernel > memif) labels[FALLBACK_OPTION] = 'kernel';
  const url: NsUrl = { mechanism: memif >= 0 ? 'memif' : 'kernel', service: c.networkService, ifname, labels };
  try {
    return parseNsUrl(formatNsUrl(url));
  } catch (err) {
    if (err instanceof NsUrlError) throw new NsmError('INVALID_ARGUMENT', err.message);
    throw err;
  }
}

/**
 * The client API of `nsm nsc run`: upstream's networkservice.NetworkService for the pod's own
 * processes. A Request is completed with what only the sidecar knows (the pod's network
 * namespace, the client name, the connection id), answered once the interface is up, and then
 * kept alive like the annotation's connections; a Request again with the answered connection's id
 * (an upstream client's refresh) answers the connection as kept. Close ends one an application
 * asked for; the annotation's are changed by editing the annotation.
 */
export function clientApiBinding(o: ClientApiOptions): ServiceBinding {
  const reserved = new Set<string>();
  const taken = () => new Set([...kernelInterfaces(), ...o.set.all.map((k) => k.url.ifname), ...reserved]);

  const request = async (req: NetworkServiceRequest): Promise<Connection> => {
    const c = req.connection;
    if (!c) throw new NsmError('INVALID_ARGUMENT', 'connection is missing: a Request carries the connection it asks for, with its network_service');
    const mine = c.id === '' ? undefined : o.set.byId(c.id);
    if (mine) {
      if (mine.origin !== 'application') throw new NsmError('INVALID_ARGUMENT', `connection ${c.id} (${formatNsUrl(mine.url)}) is the pod's own, named by its annotation ${o.annotation}: edit the annotation to change it`);
      if (c.networkService !== '' && c.networkService !== mine.url.service) throw new NsmError('INVALID_ARGUMENT', `connection ${c.id} is to ${mine.url.service}, not ${c.networkService}: Close it and Request the other service without an id`);
      if (!mine.conn) throw new NsmError('UNAVAILABLE', `connection ${c.id} is being healed; try again in a moment`);
      return mine.conn;
    }
    // The id is the sidecar's to give: whatever the application sent is not checked.
    refuseProblem(requestProblem({ ...req, connection: { ...c, id: 'id' } }));
    const url = applicationUrl(req, taken());
    const id = interfaceConnectionId(o.name, o.createdWith, url.ifname);
    reserved.add(url.ifname);
    let conn: Connection | undefined;
    try {
      conn = await requestWithRetry(o.dial, () => firstRequest(url, id, o.name), { requestTimeoutMs: o.requestTimeoutMs, deadline: Date.now() + o.requestTimeoutMs });
      if (conn.mechanism?.type !== MechanismType.MEMIF) await waitInterfaceUp(url.ifname, conn);
      await writeConnection(o.dir, url.ifname, conn);
      o.set.keep(url, id, { conn, origin: 'application' });
      o.log.info({ connId: id, service: url.service, ifname: url.ifname, addresses: conn.context?.ipContext?.srcIpAddrs }, 'connected, as an application of the pod asked');
      return conn;
    } catch (err) {
      if (conn) await (await o.dial.client()).close(conn, { timeoutMs: o.requestTimeoutMs }).catch(() => {});
      throw err;
    } finally {
      reserved.delete(url.ifname);
    }
  };

  const close = async (conn: Connection): Promise<object> => {
    const named = conn.mechanism?.parameters[Keys.name];
    const k = (conn.id !== '' ? o.set.byId(conn.id) : undefined) ?? (named ? o.set.byIfname(named) : undefined);
    if (!k) return {};
    if (k.origin !== 'application') throw new NsmError('FAILED_PRECONDITION', `connection ${k.id} (${formatNsUrl(k.url)}) is the pod's own, named by its annotation ${o.annotation}: remove it from the annotation to close it`);
    await o.set.drop(k);
    return {};
  };

  const implementation: UntypedServiceImplementation = {
    request: unaryHandler<NetworkServiceRequest, Connection>(o.log, 'networkservice.NetworkService/Request', (_ctx, req) => request(req)),
    close: unaryHandler<Connection, object>(o.log, 'networkservice.NetworkService/Close', (_ctx, conn) => close(conn)),
  };
  return { definition: NetworkServiceDefinition, implementation };
}
