import { ipBytes } from '../../../sdk/ip.ts';

/**
 * The `ip` batch lines the forwarder writes for veth connections, as operations netlink carries
 * out directly. Any other line (tunnel devices, unusual options) reads as undefined and stays with
 * `ip`.
 */
export type LinkOp =
  | { op: 'add-veth'; name: string; peer: string; peerNetns: string }
  | { op: 'set'; name: string; alias?: string; group?: number; mtu?: number; up?: true }
  | { op: 'address'; name: string; address: number[]; prefixLen: number }
  | { op: 'route'; name: string; dst: number[]; dstLen: number; via?: number[]; scopeLink: boolean }
  | { op: 'delete-group'; group: number };

const IFNAME = /^[^\s/:]{1,15}$/;
const u32 = (s: string | undefined) => (s !== undefined && /^\d{1,10}$/.test(s) && Number(s) <= 0xffffffff ? Number(s) : undefined);

function cidr(text: string | undefined): { bytes: number[]; len: number } | undefined {
  const [addr, lenText, extra] = (text ?? '').split('/');
  const bytes = ipBytes(addr);
  const len = u32(lenText);
  if (!bytes || addr.includes('%') || extra !== undefined || len === undefined || len > bytes.length * 8) return undefined;
  return { bytes, len };
}

function linkSet(args: string[]): LinkOp | undefined {
  if (args[0] !== 'dev' || !IFNAME.test(args[1] ?? '')) return undefined;
  const op: Extract<LinkOp, { op: 'set' }> = { op: 'set', name: args[1] };
  for (let i = 2; i < args.length; i++) {
    const [key, value] = [args[i], args[i + 1]];
    if (key === 'up') op.up = true;
    else if (key === 'alias' && value !== undefined && op.alias === undefined) (op.alias = value), i++;
    else if (key === 'group' && u32(value) !== undefined && op.group === undefined) (op.group = u32(value)), i++;
    else if (key === 'mtu' && u32(value) !== undefined && op.mtu === undefined) (op.mtu = u32(value)), i++;
    else return undefined;
  }
  return op;
}

function route(args: string[]): LinkOp | undefined {
  const dst = cidr(args[0]);
  let rest = args.slice(1);
  let via: number[] | undefined;
  if (rest[0] === 'via') {
    via = rest[1]?.includes('%') ? undefined : ipBytes(rest[1] ?? '');
    if (!via || via.length !== dst?.bytes.length) return undefined;
    rest = rest.slice(2);
  }
  if (!dst || rest[0] !== 'dev' || !IFNAME.test(rest[1] ?? '')) return undefined;
  const scopeLink = rest.length === 4 && rest[2] === 'scope' && rest[3] === 'link';
  if (rest.length !== 2 && !scopeLink) return undefined;
  return { op: 'route', name: rest[1], dst: dst.bytes, dstLen: dst.len, via, scopeLink };
}

export function parseIpLine(line: string): LinkOp | undefined {
  // ip reads quotes, backslashes and comments in a batch line; such lines stay with it.
  if (/["'\\#]/.test(line)) return undefined;
  const w = line.split(' ');
  if (w.some((t) => t === '')) return undefined;
  const [object, verb, ...args] = w;
  if (object === 'link' && verb === 'set') return linkSet(args);
  if (object === 'link' && verb === 'del' && args.length === 2 && args[0] === 'group' && u32(args[1]) !== undefined) {
    return { op: 'delete-group', group: u32(args[1])! };
  }
  if (object === 'link' && verb === 'add' && args.length === 8) {
    const [name, , , , , peer, , netns] = args;
    const shape = `${args[1]} ${args[2]} ${args[3]} ${args[4]} ${args[6]}`;
    if (shape !== 'type veth peer name netns' || !IFNAME.test(name) || !IFNAME.test(peer) || !netns.startsWith('/')) return undefined;
    return { op: 'add-veth', name, peer, peerNetns: netns };
  }
  if (object === 'address' && verb === 'add' && args.length === 3 && args[1] === 'dev' && IFNAME.test(args[2])) {
    const a = cidr(args[0]);
    return a && { op: 'address', name: args[2], address: a.bytes, prefixLen: a.len };
  }
  if (object === 'route' && verb === 'replace') return route(args);
  return undefined;
}
