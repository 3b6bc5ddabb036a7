import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parseDocument } from 'yaml';
import { serviceNameProblem } from '../../proto/nsurl.ts';
import { cidrProblem, ifnameProblem, ipProblem } from '../../proto/validate/fields.ts';
import { NsmError } from '../../sdk/errors.ts';
import { inPrefix } from '../../sdk/ip.ts';
import { extendedResourceProblem } from '../../sdk/k8s/extended-resource.ts';

/** A route the device gets in the client's namespace; `nextHop` lies on the pool's network. */
export interface PoolRoute {
  prefix: string;
  nextHop?: string;
}

/** One pool of the NSM_DEVICE_POOLS file. */
export interface PoolConfig {
  /** Extended resource name advertised to the kubelet (`domain/name`). */
  resource: string;
  /** The network service served from this pool. */
  service: string;
  /** Interfaces in the node's network namespace. */
  devices: string[];
  /** Each client gets one address from it, with the prefix's own length. */
  cidrPrefix?: string;
  /** Never handed out (the network's gateway, for instance). */
  excludePrefixes: string[];
  routes: PoolRoute[];
  /** Set on the device in the client's namespace; without it the device keeps its own. */
  mtu?: number;
}

const POOL_FIELDS = ['resource', 'service', 'devices', 'cidrPrefix', 'excludePrefixes', 'routes', 'mtu'];
const EXAMPLE = 'pools:\n  - resource: nsm.example.com/radio\n    service: radio\n    devices: [radio0, radio1]';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const familyOf = (cidr: string) => isIP(cidr.split('/')[0]);

/** Reads one pool, throwing a plain Error whose message starts with the field at fault. */
function pool(raw: unknown): PoolConfig {
  if (!isObject(raw)) throw new Error(`is not a mapping with resource, service and devices`);
  const unknown = Object.keys(raw).filter((k) => !POOL_FIELDS.includes(k));
  if (unknown.length > 0) throw new Error(`${unknown[0]} is not a field of a pool (${POOL_FIELDS.join(', ')})`);
  const text = (field: string): string => {
    const v = raw[field];
    if (typeof v !== 'string' || v === '') throw new Error(`${field} is ${v === undefined ? 'missing' : 'not a string'}`);
    return v;
  };
  const list = (field: string): unknown[] => {
    const v = raw[field] ?? [];
    if (!Array.isArray(v)) throw new Error(`${field} is not a list`);
    return v;
  };
  const resource = text('resource');
  const resourceWhy = extendedResourceProblem(resource);
  if (resourceWhy) throw new Error(`resource ${resourceWhy}`);
  const service = text('service');
  const serviceWhy = serviceNameProblem(service);
  if (serviceWhy) throw new Error(`service: ${serviceWhy}`);
  const devices = list('devices');
  if (devices.length === 0) throw new Error('devices is empty: name the interfaces of the node\'s network namespace the pool hands out');
  devices.forEach((d, i) => {
    const why = typeof d === 'string' ? ifnameProblem(d) : 'is not a string';
    if (why) throw new Error(`devices[${i}] ${JSON.stringify(d)}: ${why}`);
    if (devices.indexOf(d) !== i) throw new Error(`devices[${i}] ${JSON.stringify(d)} is listed twice`);
  });
  const cidrPrefix = raw.cidrPrefix === undefined ? undefined : text('cidrPrefix');
  const cidrWhy = cidrPrefix && cidrProblem('cidrPrefix', cidrPrefix);
  if (cidrWhy) throw new Error(cidrWhy);
  const excludePrefixes = list('excludePrefixes').map((p, i) => {
    const field = `excludePrefixes[${i}]`;
    if (typeof p !== 'string') throw new Error(`${field} is not a string`);
    const why = cidrProblem(field, p);
    if (why) throw new Error(why);
    if (!cidrPrefix) throw new Error(`${field}: excludePrefixes needs a cidrPrefix to exclude from`);
    if (familyOf(p) !== familyOf(cidrPrefix)) throw new Error(`${field} ${p} is not of the family of cidrPrefix ${cidrPrefix}`);
    return p;
  });
  const routes = list('routes').map((r, i): PoolRoute => {
    const field = `routes[${i}]`;
    if (!isObject(r) || typeof r.prefix !== 'string') throw new Error(`${field} is not a mapping with prefix (and nextHop)`);
    const extra = Object.keys(r).find((k) => k !== 'prefix' && k !== 'nextHop');
    if (extra) throw new Error(`${field}.${extra} is not a field of a route (prefix, nextHop)`);
    const why = cidrProblem(`${field}.prefix`, r.prefix);
    if (why) throw new Error(why);
    if (r.nextHop === undefined) return { prefix: r.prefix };
    if (typeof r.nextHop !== 'string') throw new Error(`${field}.nextHop is not a string`);
    const hopWhy = ipProblem(`${field}.nextHop`, r.nextHop);
    if (hopWhy) throw new Error(hopWhy);
    if (!cidrPrefix || !inPrefix(cidrPrefix, r.nextHop)) throw new Error(`${field}.nextHop ${r.nextHop} is not on the pool's network (cidrPrefix ${cidrPrefix ?? 'is not set'}), so the client could not reach it`);
    if (familyOf(r.prefix) !== isIP(r.nextHop)) throw new Error(`${field}.nextHop ${r.nextHop} is not of the family of ${r.prefix}`);
    return { prefix: r.prefix, nextHop: r.nextHop };
  });
  const mtu = raw.mtu;
  if (mtu !== undefined && (!Number.isInteger(mtu) || (mtu as number) < 68 || (mtu as number) > 65535)) throw new Error(`mtu ${JSON.stringify(mtu)} is not a whole number from 68 to 65535`);
  return { resource, service, devices: devices as string[], ...(cidrPrefix ? { cidrPrefix } : {}), excludePrefixes, routes, ...(mtu !== undefined ? { mtu: mtu as number } : {}) };
}

/** How a pool is named in messages: its resource when it has a valid one, and its place in the file. */
function poolName(raw: unknown, i: number): string {
  const r = isObject(raw) ? raw.resource : undefined;
  return typeof r === 'string' && r !== '' ? `pool ${r} (pools[${i}])` : `pools[${i}]`;
}

/**
 * The pools of an NSM_DEVICE_POOLS file. Anything malformed is refused with INVALID_ARGUMENT
 * naming the file, the pool and the field; a resource or a device may belong to one pool only.
 */
export function parsePoolFile(text: string, file: string): PoolConfig[] {
  const where = `NSM_DEVICE_POOLS ${file}`;
  const fail = (what: string): never => {
    throw new NsmError('INVALID_ARGUMENT', `${where}: ${what}`);
  };
  const doc = parseDocument(text);
  if (doc.errors.length > 0) fail(`not valid YAML: ${doc.errors[0].message}`);
  const top: unknown = doc.toJS();
  if (!isObject(top) || !Array.isArray(top.pools)) return fail(`expected a mapping with a list of pools, such as\n${EXAMPLE}`);
  const extra = Object.keys(top).find((k) => k !== 'pools');
  if (extra) fail(`${extra} is not a field of the file (only pools)`);
  const pools: PoolConfig[] = [];
  const owners = new Map<string, string>();
  (top.pools as unknown[]).forEach((raw, i) => {
    const name = poolName(raw, i);
    let p: PoolConfig;
    try {
      p = pool(raw);
    } catch (err) {
      return fail(`${name}: ${(err as Error).message}`);
    }
    const twin = pools.findIndex((q) => q.resource === p.resource);
    if (twin >= 0) fail(`${name}: resource ${p.resource} is also the resource of pools[${twin}]; one pool per resource`);
    p.devices.forEach((d, j) => {
      const owner = owners.get(d);
      if (owner) fail(`${name}: devices[${j}] ${d} is also a device of ${owner}; a device belongs to one pool`);
      owners.set(d, name);
    });
    pools.push(p);
  });
  return pools;
}

/** Reads and checks the file; an empty path means no pools. */
export function loadPoolFile(path: string): PoolConfig[] {
  if (path === '') return [];
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new NsmError('INVALID_ARGUMENT', `NSM_DEVICE_POOLS ${path}: cannot read it: ${(err as Error).message}`);
  }
  return parsePoolFile(text, path);
}
