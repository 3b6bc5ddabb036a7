import { isIP } from 'node:net';
import { READ_BY_BATCH } from './ip/format.ts';
import { KernelError } from './kernel-error.ts';
import type { AddAddress, AddBridge, AddGre, AddVeth, AddVxlan, DeleteGroup, DeleteLink, KernelOp, MoveLink, OpName, RenameLink, ReplaceRoute, SetBridgePort, SetLink } from './kernel-op.ts';

/**
 * The rules every field of a kernel op follows, and the constructors that apply them. The rules
 * make each value mean the same to the kernel over netlink and to `ip` reading a batch line: no
 * value carries whitespace, quotes, `#`, backslashes or control characters (which the batch reader
 * would interpret), and numbers are numbers. The runner checks every op again, whoever built it.
 */

/** Why a value breaks the rule; undefined when it keeps it. */
type Rule = (v: unknown) => string | undefined;

const READ_BY_BATCH_WHY = 'contains whitespace, a quote, "#", a backslash or a control character, which an ip batch line would interpret';
const bytes = (s: string) => Buffer.byteLength(s);

const text = (max: number): Rule => (v) => {
  if (typeof v !== 'string') return 'is not a string';
  if (v === '') return 'is empty';
  if (bytes(v) > max) return `is longer than ${max} bytes`;
  return READ_BY_BATCH.test(v) ? READ_BY_BATCH_WHY : undefined;
};

/** Linux's rules for interface names (dev_valid_name), and no `%`, which would make the kernel pick the name. */
const ifname: Rule = (v) => {
  if (typeof v !== 'string') return 'is not a string';
  if (v === '') return 'is empty';
  if (bytes(v) > 15) return 'is longer than 15 bytes, Linux\'s limit for interface names';
  if (v === '.' || v === '..') return 'is not a name Linux allows for an interface';
  if (/[/:]/.test(v)) return 'contains "/" or ":", which Linux does not allow in interface names';
  if (/\s/.test(v)) return 'contains whitespace, which Linux does not allow in interface names';
  if (v.includes('%')) return 'contains "%", which makes the kernel pick the name itself (a%d becomes a0)';
  return READ_BY_BATCH.test(v) ? READ_BY_BATCH_WHY : undefined;
};

const netnsFile: Rule = (v) => {
  const why = text(4095)(v);
  if (why) return why;
  return (v as string).startsWith('/') ? undefined : 'is not an absolute path of a file holding a network namespace';
};

const address: Rule = (v) => (typeof v === 'string' && !v.includes('%') && isIP(v) !== 0 ? undefined : 'is not an IPv4 or IPv6 address');

const cidr: Rule = (v) => {
  const m = typeof v === 'string' ? /^([^/]+)\/(0|[1-9]\d{0,2})$/.exec(v) : null;
  if (!m || address(m[1])) return 'is not an IPv4 or IPv6 address/length';
  const max = isIP(m[1]) === 4 ? 32 : 128;
  return Number(m[2]) > max ? `has a prefix length over ${max}` : undefined;
};

const integer = (min: number, max: number): Rule => (v) => (Number.isInteger(v) && (v as number) >= min && (v as number) <= max ? undefined : `is not a whole number from ${min} to ${max}`);
const u32 = integer(0, 0xffffffff);
const bool: Rule = (v) => (typeof v === 'boolean' ? undefined : 'is not true or false');
const mac: Rule = (v) => (typeof v === 'string' && /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(v) ? undefined : 'is not a MAC address (aa:bb:cc:dd:ee:ff)');
const seconds: Rule = (v) => (typeof v === 'number' && v >= 0 && v <= 0xffffffff / 100 ? undefined : 'is not a number of seconds from 0 to 42949672');
const greKind: Rule = (v) => (v === 'gre' || v === 'gretap' ? undefined : 'is not gre or gretap');
const master: Rule = (v) => (v === null ? undefined : ifname(v));
const opt = (r: Rule): Rule => (v) => (v === undefined ? undefined : r(v));

type FieldsOf<K extends OpName> = Exclude<keyof Extract<KernelOp, { op: K }>, 'op'>;

const FIELDS: { [K in OpName]: Record<FieldsOf<K>, Rule> } = {
  'add-veth': { name: ifname, peer: ifname, peerNetns: netnsFile },
  'set-link': { name: ifname, alias: opt(text(255)), group: opt(u32), mtu: opt(integer(1, 0xffffffff)), mac: opt(mac), master: opt(master), up: opt(bool) },
  'add-address': { name: ifname, address: cidr },
  'replace-route': { name: ifname, dst: cidr, via: opt(address), scopeLink: opt(bool) },
  'add-bridge': { name: ifname, ageingSeconds: opt(seconds), stp: opt(bool) },
  'set-bridge-port': {
    name: ifname, isolated: opt(bool), learning: opt(bool), unicastFlood: opt(bool), multicastFlood: opt(bool),
    broadcastFlood: opt(bool), neighSuppress: opt(bool), hairpin: opt(bool),
  },
  'move-link': { name: ifname, netns: netnsFile, newName: opt(ifname) },
  'rename-link': { name: ifname, newName: ifname },
  'add-vxlan': { name: ifname, netns: opt(netnsFile), vni: integer(0, 0xffffff), local: address, remote: address, dstPort: integer(1, 65535), underlay: opt(ifname) },
  'add-gre': { kind: greKind, name: ifname, netns: opt(netnsFile), local: address, remote: address, key: u32, underlay: opt(ifname) },
  'delete-group': { group: u32 },
  'delete-link': { name: ifname },
};

const familyOf = (ip: string) => isIP(ip.split('/')[0]);

/** Rules between fields: the field that breaks one, and why. */
function across(op: KernelOp): [string, string] | undefined {
  if (op.op === 'replace-route' && op.via !== undefined && familyOf(op.via) !== familyOf(op.dst)) return ['via', `is not of the family of dst ${op.dst}`];
  if ((op.op === 'add-vxlan' || op.op === 'add-gre') && familyOf(op.local) !== familyOf(op.remote)) return ['remote', `is not of the family of local ${op.local}`];
  return undefined;
}

/** Returns `op` when every field keeps its rule; throws KernelError INVALID_ARGUMENT naming the field that does not. */
export function checkOp<T extends KernelOp>(op: T): T {
  if (typeof op !== 'object' || op === null) throw KernelError.invalid(op, 'op', op, 'is not a kernel operation');
  const rules = Object.hasOwn(FIELDS, op.op) ? (FIELDS[op.op] as Record<string, Rule>) : undefined;
  if (!rules) throw KernelError.invalid(op, 'op', op.op, `is not a kernel operation (${Object.keys(FIELDS).join(', ')})`);
  const fields = op as unknown as Record<string, unknown>;
  for (const field of Object.keys(op)) {
    if (field !== 'op' && !Object.hasOwn(rules, field)) throw KernelError.invalid(op, field, fields[field], `is not a field of ${op.op}`);
  }
  for (const [field, rule] of Object.entries(rules)) {
    const why = rule(fields[field]);
    if (why) throw KernelError.invalid(op, field, fields[field], why);
  }
  const broken = across(op);
  if (broken) throw KernelError.invalid(op, broken[0], fields[broken[0]], broken[1]);
  return op;
}

type Fields<T extends KernelOp> = Omit<T, 'op'>;

export const addVeth = (f: Fields<AddVeth>) => checkOp<AddVeth>({ op: 'add-veth', ...f });
export const setLink = (f: Fields<SetLink>) => checkOp<SetLink>({ op: 'set-link', ...f });
export const addAddress = (f: Fields<AddAddress>) => checkOp<AddAddress>({ op: 'add-address', ...f });
export const replaceRoute = (f: Fields<ReplaceRoute>) => checkOp<ReplaceRoute>({ op: 'replace-route', ...f });
export const addBridge = (f: Fields<AddBridge>) => checkOp<AddBridge>({ op: 'add-bridge', ...f });
export const setBridgePort = (f: Fields<SetBridgePort>) => checkOp<SetBridgePort>({ op: 'set-bridge-port', ...f });
export const moveLink = (f: Fields<MoveLink>) => checkOp<MoveLink>({ op: 'move-link', ...f });
export const renameLink = (f: Fields<RenameLink>) => checkOp<RenameLink>({ op: 'rename-link', ...f });
export const addVxlan = (f: Fields<AddVxlan>) => checkOp<AddVxlan>({ op: 'add-vxlan', ...f });
export const addGre = (f: Fields<AddGre>) => checkOp<AddGre>({ op: 'add-gre', ...f });
export const deleteGroup = (group: number) => checkOp<DeleteGroup>({ op: 'delete-group', group });
export const deleteLink = (name: string) => checkOp<DeleteLink>({ op: 'delete-link', name });
