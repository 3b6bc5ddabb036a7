import { closeSync, openSync } from 'node:fs';
import { constants } from 'node:os';
import { ipBytes } from '../../../sdk/ip.ts';
import { PORT_FLAG_WORDS, type AddBridge, type AddVeth, type AddVxlan, type KernelOp, type MoveLink, type PortFlag, type RenameLink, type ReplaceRoute, type SetBridgePort, type SetLink } from '../kernel-op.ts';
import { strerror } from './libc.ts';
import {
  AF_INET, AF_INET6, IFA_ADDRESS, IFA_LOCAL, ifaddr, IFF_UP, ifindexOf, ifinfo, IFLA_ADDRESS, IFLA_BR_AGEING_TIME, IFLA_BR_STP_STATE, IFLA_BRPORT_BCAST_FLOOD,
  IFLA_BRPORT_ISOLATED, IFLA_BRPORT_LEARNING, IFLA_BRPORT_MCAST_FLOOD, IFLA_BRPORT_MODE, IFLA_BRPORT_NEIGH_SUPPRESS, IFLA_BRPORT_UNICAST_FLOOD, IFLA_EXT_MASK,
  IFLA_GROUP, IFLA_IFALIAS, IFLA_IFNAME, IFLA_INFO_DATA, IFLA_INFO_KIND, IFLA_INFO_SLAVE_DATA, IFLA_INFO_SLAVE_KIND, IFLA_LINKINFO, IFLA_MASTER, IFLA_MTU,
  IFLA_NET_NS_FD, IFLA_VXLAN_GROUP, IFLA_VXLAN_GROUP6, IFLA_VXLAN_ID, IFLA_VXLAN_LINK, IFLA_VXLAN_LOCAL, IFLA_VXLAN_LOCAL6, IFLA_VXLAN_PORT, NLM_F_ACK,
  NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, RT_SCOPE_LINK, RT_SCOPE_UNIVERSE, RTA_DST, RTA_GATEWAY, RTA_OIF, RTEXT_FILTER_SKIP_STATS, RTM_GETLINK, RTM_NEWADDR,
  RTM_NEWLINK, RTM_NEWROUTE, rtmsg, VETH_INFO_PEER, type Attr, type Reply,
} from './messages.ts';
import type { NetlinkSocket } from './socket.ts';

/** A refusal: the errno, and words as `ip` gives them, so users read the same either way. */
export class Refused extends Error {
  readonly errno: number;
  constructor(errno: number, words: string) {
    super(words);
    this.errno = errno;
  }
}

/** Throws the refusal in `reply`, if any; `device` is the interface the request names, if it names one. */
function check(reply: Reply, device?: string): void {
  if (reply.kind === 'ack') return;
  if (reply.kind === 'error' && reply.errno === constants.errno.ENODEV && device !== undefined) throw new Refused(reply.errno, `Cannot find device "${device}"`);
  if (reply.kind === 'error') throw new Refused(reply.errno, reply.extack ? `${reply.extack} (${strerror(reply.errno)})` : strerror(reply.errno));
  throw new Refused(constants.errno.EPROTO, `unexpected netlink answer of type ${reply.type}`);
}

/** The index of interface `name`, from `known` or else asked of the kernel and kept there. */
function ifindex(sock: NetlinkSocket, name: string, known: Map<string, number>): number {
  const kept = known.get(name);
  if (kept !== undefined) return kept;
  const reply = sock.request(RTM_GETLINK, 0, ifinfo({}, [[IFLA_IFNAME, name], [IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS]]));
  if (reply.kind !== 'data') {
    check(reply, name);
    throw new Refused(constants.errno.EPROTO, `no answer about device "${name}"`);
  }
  const index = ifindexOf(reply.body);
  known.set(name, index);
  return index;
}

/** Runs `fn` with a descriptor of the namespace file `path` (closed after). */
function withNetns<T>(path: string, fn: (fd: number) => T): T {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    throw new Refused(constants.errno[code as keyof typeof constants.errno] ?? constants.errno.EINVAL, `Invalid "netns" value "${path}": ${(err as Error).message}`);
  }
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

/** `address[/length]` as bytes and a length. */
function prefix(text: string): { bytes: Uint8Array; len: number } {
  const [addr, len] = text.split('/');
  const bytes = Uint8Array.from(ipBytes(addr)!);
  return { bytes, len: len === undefined ? bytes.length * 8 : Number(len) };
}

const familyOf = (bytes: Uint8Array) => (bytes.length === 4 ? AF_INET : AF_INET6);
const create = (sock: NetlinkSocket, attrs: Attr[]) => check(sock.request(RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, ifinfo({}, attrs)));

function addVeth(sock: NetlinkSocket, op: AddVeth): void {
  withNetns(op.peerNetns, (fd) => {
    const peer = ifinfo({}, [[IFLA_IFNAME, op.peer], [IFLA_NET_NS_FD, fd]]);
    create(sock, [[IFLA_IFNAME, op.name], [IFLA_LINKINFO, [[IFLA_INFO_KIND, 'veth'], [IFLA_INFO_DATA, [[VETH_INFO_PEER, peer]]]]]]);
  });
}

function setLink(sock: NetlinkSocket, op: SetLink, indexes: Map<string, number>): void {
  const attrs: Attr[] = [[IFLA_IFNAME, op.name]];
  if (op.mtu !== undefined) attrs.push([IFLA_MTU, op.mtu]);
  if (op.alias !== undefined) attrs.push([IFLA_IFALIAS, Buffer.from(op.alias)]);
  if (op.group !== undefined) attrs.push([IFLA_GROUP, op.group]);
  if (op.mac !== undefined) attrs.push([IFLA_ADDRESS, Buffer.from(op.mac.replaceAll(':', ''), 'hex')]);
  if (op.master !== undefined) attrs.push([IFLA_MASTER, op.master === null ? 0 : ifindex(sock, op.master, indexes)]);
  const change = op.up === undefined ? 0 : IFF_UP;
  check(sock.request(RTM_NEWLINK, NLM_F_ACK, ifinfo({ flags: op.up ? IFF_UP : 0, change }, attrs)), op.name);
}

function replaceRoute(sock: NetlinkSocket, op: ReplaceRoute, indexes: Map<string, number>): void {
  const index = ifindex(sock, op.name, indexes);
  const dst = prefix(op.dst);
  const family = familyOf(dst.bytes);
  // As `ip route`: a route without a gateway is on-link; IPv6 routes are universe unless told.
  const scope = op.scopeLink || (!op.via && family === AF_INET) ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
  const attrs: Attr[] = [[RTA_DST, dst.bytes], [RTA_OIF, index]];
  if (op.via) attrs.push([RTA_GATEWAY, prefix(op.via).bytes]);
  check(sock.request(RTM_NEWROUTE, NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, rtmsg(family, dst.len, scope, attrs)));
}

function addBridge(sock: NetlinkSocket, op: AddBridge): void {
  const data: Attr[] = [];
  if (op.ageingSeconds !== undefined) data.push([IFLA_BR_AGEING_TIME, Math.round(op.ageingSeconds * 100)]);
  if (op.stp !== undefined) data.push([IFLA_BR_STP_STATE, op.stp ? 1 : 0]);
  create(sock, [[IFLA_IFNAME, op.name], [IFLA_LINKINFO, [[IFLA_INFO_KIND, 'bridge'], ...(data.length > 0 ? [[IFLA_INFO_DATA, data] as Attr] : [])]]]);
}

const PORT_ATTRS: Record<PortFlag, number> = {
  isolated: IFLA_BRPORT_ISOLATED,
  learning: IFLA_BRPORT_LEARNING,
  unicastFlood: IFLA_BRPORT_UNICAST_FLOOD,
  multicastFlood: IFLA_BRPORT_MCAST_FLOOD,
  broadcastFlood: IFLA_BRPORT_BCAST_FLOOD,
  neighSuppress: IFLA_BRPORT_NEIGH_SUPPRESS,
  hairpin: IFLA_BRPORT_MODE,
};

function setBridgePort(sock: NetlinkSocket, op: SetBridgePort): void {
  const flags = (Object.keys(PORT_FLAG_WORDS) as PortFlag[]).filter((f) => op[f] !== undefined);
  const data: Attr[] = flags.map((f) => [PORT_ATTRS[f], Uint8Array.of(op[f] ? 1 : 0)]);
  const info: Attr[] = [[IFLA_INFO_SLAVE_KIND, 'bridge'], [IFLA_INFO_SLAVE_DATA, data]];
  check(sock.request(RTM_NEWLINK, NLM_F_ACK, ifinfo({}, [[IFLA_IFNAME, op.name], [IFLA_LINKINFO, info]])), op.name);
}

function moveLink(sock: NetlinkSocket, op: MoveLink, indexes: Map<string, number>): void {
  const index = ifindex(sock, op.name, indexes);
  withNetns(op.netns, (fd) => {
    const attrs: Attr[] = [[IFLA_NET_NS_FD, fd], ...(op.newName ? [[IFLA_IFNAME, op.newName] as Attr] : [])];
    check(sock.request(RTM_NEWLINK, NLM_F_ACK, ifinfo({ index }, attrs)), op.name);
  });
  // The name now means nothing here (or another link, after a rename elsewhere).
  indexes.delete(op.name);
}

function renameLink(sock: NetlinkSocket, op: RenameLink, indexes: Map<string, number>): void {
  const index = ifindex(sock, op.name, indexes);
  check(sock.request(RTM_NEWLINK, NLM_F_ACK, ifinfo({ index }, [[IFLA_IFNAME, op.newName]])), op.name);
  indexes.delete(op.name);
  indexes.set(op.newName, index);
}

function addVxlan(sock: NetlinkSocket, op: AddVxlan, indexes: Map<string, number>): void {
  const local = prefix(op.local).bytes;
  const remote = prefix(op.remote).bytes;
  const v4 = local.length === 4;
  const data: Attr[] = [[IFLA_VXLAN_ID, op.vni], [v4 ? IFLA_VXLAN_GROUP : IFLA_VXLAN_GROUP6, remote], [v4 ? IFLA_VXLAN_LOCAL : IFLA_VXLAN_LOCAL6, local]];
  if (op.underlay !== undefined) data.push([IFLA_VXLAN_LINK, ifindex(sock, op.underlay, indexes)]);
  data.push([IFLA_VXLAN_PORT, Uint8Array.of(op.dstPort >> 8, op.dstPort & 0xff)]);
  const attrs = (extra: Attr[]): Attr[] => [[IFLA_IFNAME, op.name], ...extra, [IFLA_LINKINFO, [[IFLA_INFO_KIND, 'vxlan'], [IFLA_INFO_DATA, data]]]];
  // Created here (its socket stays here), placed in its namespace by the kernel.
  if (op.netns === undefined) create(sock, attrs([]));
  else withNetns(op.netns, (fd) => create(sock, attrs([[IFLA_NET_NS_FD, fd]])));
}

/**
 * Carries out one op (one of OVER_NETLINK), as `ip` would; throws Refused.
 * `indexes` holds the interface indexes known so far, as `ip` keeps them through a batch.
 */
export function execute(sock: NetlinkSocket, op: KernelOp, indexes: Map<string, number>): void {
  switch (op.op) {
    case 'add-veth':
      return addVeth(sock, op);
    case 'set-link':
      return setLink(sock, op, indexes);
    case 'add-address': {
      const index = ifindex(sock, op.name, indexes);
      const a = prefix(op.address);
      return check(sock.request(RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, ifaddr(familyOf(a.bytes), a.len, index, [[IFA_LOCAL, a.bytes], [IFA_ADDRESS, a.bytes]])));
    }
    case 'replace-route':
      return replaceRoute(sock, op, indexes);
    case 'add-bridge':
      return addBridge(sock, op);
    case 'set-bridge-port':
      return setBridgePort(sock, op);
    case 'move-link':
      return moveLink(sock, op, indexes);
    case 'rename-link':
      return renameLink(sock, op, indexes);
    case 'add-vxlan':
      return addVxlan(sock, op, indexes);
    default:
      throw new Refused(constants.errno.EOPNOTSUPP, `${op.op} does not go over netlink`);
  }
}
