import type { Connection, ConnectionContext, Mechanism, NetworkServiceRequest, Path, Route } from '../api.ts';
import { Keys, MechanismType, Payload } from '../mechanisms.ts';
import { MemifOwnerKeys } from '../memif.ts';
import {
  cidrProblem, first, inodeUrlProblem, interfaceNameProblem, intProblem, ipProblem, labelsProblem, LIMITS, nameProblem, socketPathProblem, textProblem,
  type Problem,
} from './fields.ts';

const U32 = 0xffffffff;
const MAC = /^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$/;
const MECHANISM_TYPE = /^[A-Z][A-Z0-9_]{0,31}$/;

/** What each parameter key becomes, wherever it appears; keys not listed are free text. */
const PARAMETER_RULES: Record<string, (field: string, value: string) => Problem> = {
  [Keys.name]: interfaceNameProblem,
  [Keys.inodeURL]: inodeUrlProblem,
  [Keys.socketfile]: socketPathProblem,
  [Keys.srcIp]: ipProblem,
  [Keys.dstIp]: ipProblem,
  [Keys.srcPort]: (f, v) => intProblem(f, v, 0, 65535),
  [Keys.dstPort]: (f, v) => intProblem(f, v, 0, 65535),
  [Keys.vni]: (f, v) => intProblem(f, v, 1, 0xffffff),
  [Keys.mtu]: (f, v) => intProblem(f, v, 68, 65535),
  [MemifOwnerKeys.uid]: (f, v) => intProblem(f, v, 0, U32),
  [MemifOwnerKeys.gid]: (f, v) => intProblem(f, v, 0, U32),
  [Keys.tokenID]: (f, v) => nameProblem(f, v),
};

/** Keys whose meaning depends on the mechanism type. */
const TYPED_RULES: Record<string, Record<string, (field: string, value: string) => Problem>> = {
  [MechanismType.MEMIF]: { [Keys.memifId]: (f, v) => intProblem(f, v, 0, U32) },
  [MechanismType.GRE]: { [Keys.greKey]: (f, v) => intProblem(f, v, 0, U32) },
  [MechanismType.KERNEL]: {
    [Keys.bridge]: interfaceNameProblem,
    [Keys.isolated]: (f, v) => (v === 'true' || v === 'false' ? undefined : `${f} ${JSON.stringify(v.slice(0, 80))} is neither true nor false`),
  },
};

export function mechanismProblem(field: string, m: Mechanism): Problem {
  if (m.cls !== 'LOCAL' && m.cls !== 'REMOTE') return `${field}.cls ${JSON.stringify(m.cls)} is neither LOCAL nor REMOTE`;
  if (!MECHANISM_TYPE.test(m.type)) return `${field}.type ${JSON.stringify(m.type)} is not a mechanism type (upper-case letters, digits and _, such as KERNEL)`;
  const entries = Object.entries(m.parameters);
  if (entries.length > LIMITS.parameters) return `${field}.parameters has ${entries.length} entries; at most ${LIMITS.parameters} are allowed`;
  for (const [key, value] of entries) {
    const at = `${field}.parameters[${JSON.stringify(key)}]`;
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(key)) return `${field}.parameters key ${JSON.stringify(key.slice(0, 80))} is not a parameter name (1-64 letters, digits and _.-)`;
    if (value === '') continue;
    const rule = TYPED_RULES[m.type]?.[key] ?? PARAMETER_RULES[key];
    const p = rule ? rule(at, value) : textProblem(at, value, LIMITS.parameterValue);
    if (p) return p;
  }
  return undefined;
}

export function pathProblem(field: string, path: Path | undefined): Problem {
  if (!path) return undefined;
  const n = path.pathSegments.length;
  if (n > LIMITS.segments) return `${field}.path_segments has ${n} segments; at most ${LIMITS.segments} hops are allowed`;
  if (path.index >= Math.max(n, 1)) return `${field}.index ${path.index} points past the ${n} path segment${n === 1 ? '' : 's'}`;
  for (const [i, s] of path.pathSegments.entries()) {
    const at = `${field}.path_segments[${i}]`;
    const p = first(
      nameProblem(`${at}.name`, s.name),
      nameProblem(`${at}.id`, s.id, false),
      textProblem(`${at}.token`, s.token, LIMITS.token),
      labelsProblem(`${at}.metrics`, s.metrics),
    );
    if (p) return p;
  }
  return undefined;
}

function listProblem(field: string, values: readonly string[], max: number, each: (f: string, v: string) => Problem): Problem {
  if (values.length > max) return `${field} has ${values.length} entries; at most ${max} are allowed`;
  for (const [i, v] of values.entries()) {
    const p = each(`${field}[${i}]`, v);
    if (p) return p;
  }
  return undefined;
}

export function contextProblem(field: string, c: ConnectionContext | undefined): Problem {
  if (!c) return undefined;
  if (c.MTU > 65535) return `${field}.MTU ${c.MTU} is larger than 65535`;
  const ip = c.ipContext;
  const routes = (name: string, rs: readonly Route[]): Problem => {
    if (rs.length > LIMITS.routes) return `${field}.ip_context.${name} has ${rs.length} routes; at most ${LIMITS.routes} are allowed`;
    for (const [i, r] of rs.entries()) {
      const p = first(cidrProblem(`${field}.ip_context.${name}[${i}].prefix`, r.prefix), r.nextHop ? ipProblem(`${field}.ip_context.${name}[${i}].nextHop`, r.nextHop) : undefined);
      if (p) return p;
    }
    return undefined;
  };
  const eth = c.ethernetContext;
  const mac = (name: string, v: string): Problem => (v === '' || MAC.test(v) ? undefined : `${field}.ethernet_context.${name} ${JSON.stringify(v)} is not a MAC address`);
  return first(
    ip && listProblem(`${field}.ip_context.src_ip_addrs`, ip.srcIpAddrs, LIMITS.addresses, cidrProblem),
    ip && listProblem(`${field}.ip_context.dst_ip_addrs`, ip.dstIpAddrs, LIMITS.addresses, cidrProblem),
    ip && listProblem(`${field}.ip_context.excluded_prefixes`, ip.excludedPrefixes, LIMITS.routes, cidrProblem),
    ip && routes('src_routes', ip.srcRoutes),
    ip && routes('dst_routes', ip.dstRoutes),
    eth && mac('src_mac', eth.srcMac),
    eth && mac('dst_mac', eth.dstMac),
    labelsProblem(`${field}.extra_context`, c.extraContext),
  );
}

/** Everything of a connection a caller sends (Request's connection, or Close's argument). */
export function connectionProblem(field: string, c: Connection): Problem {
  return first(
    nameProblem(`${field}.id`, c.id),
    nameProblem(`${field}.network_service`, c.networkService, false),
    nameProblem(`${field}.network_service_endpoint_name`, c.networkServiceEndpointName, false),
    c.payload === '' || c.payload === Payload.ETHERNET || c.payload === Payload.IP ? undefined : `${field}.payload ${JSON.stringify(c.payload)} is neither ETHERNET nor IP`,
    labelsProblem(`${field}.labels`, c.labels),
    c.mechanism && mechanismProblem(`${field}.mechanism`, c.mechanism),
    contextProblem(`${field}.context`, c.context),
    pathProblem(`${field}.path`, c.path),
  );
}

export function requestProblem(req: NetworkServiceRequest): Problem {
  const c = req.connection;
  if (!c) return 'connection is missing: a Request carries the connection it asks for (id, network_service, path)';
  if (c.networkService === '') return 'connection.network_service is empty: name the network service to connect to';
  if (req.mechanismPreferences.length > LIMITS.preferences) return `mechanism_preferences has ${req.mechanismPreferences.length} entries; at most ${LIMITS.preferences} are allowed`;
  return first(
    connectionProblem('connection', c),
    ...req.mechanismPreferences.map((m, i) => mechanismProblem(`mechanism_preferences[${i}]`, m)),
  );
}

export function closeProblem(c: Connection): Problem {
  return connectionProblem('connection', c);
}
