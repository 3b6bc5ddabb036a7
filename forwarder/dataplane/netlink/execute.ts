import { closeSync, openSync } from 'node:fs';
import { constants } from 'node:os';
import type { LinkOp } from './ip-lines.ts';
import { strerror } from './libc.ts';
import {
  AF_INET, AF_INET6, IFA_ADDRESS, IFA_LOCAL, ifaddr, IFF_UP, ifindexOf, ifinfo, IFLA_EXT_MASK, IFLA_GROUP, IFLA_IFALIAS, IFLA_IFNAME, IFLA_INFO_DATA,
  IFLA_INFO_KIND, IFLA_LINKINFO, IFLA_MTU, IFLA_NET_NS_FD, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, RT_SCOPE_LINK, RT_SCOPE_UNIVERSE, RTA_DST,
  RTA_GATEWAY, RTA_OIF, RTEXT_FILTER_SKIP_STATS, RTM_DELLINK, RTM_GETLINK, RTM_NEWADDR, RTM_NEWLINK, RTM_NEWROUTE, rtmsg, VETH_INFO_PEER, type Attr, type Reply,
} from './messages.ts';
import type { NetlinkSocket } from './socket.ts';

/** A refusal, worded as `ip` words it, so callers (and users) read the same messages. */
export class Refused extends Error {}

/** Throws the refusal in `reply`, if any; `device` is the interface the request names, if it names one. */
function check(reply: Reply, device?: string): void {
  if (reply.kind === 'ack') return;
  if (reply.kind === 'error' && reply.errno === constants.errno.ENODEV && device !== undefined) throw new Refused(`Cannot find device "${device}"`);
  if (reply.kind === 'error') throw new Refused(reply.extack ? `Error: ${reply.extack} (${strerror(reply.errno)})` : `RTNETLINK answers: ${strerror(reply.errno)}`);
  throw new Refused(`unexpected netlink answer of type ${reply.type}`);
}

/** The index of interface `name`, from `known` or else asked of the kernel and kept there. */
function ifindex(sock: NetlinkSocket, name: string, known: Map<string, number>): number {
  const kept = known.get(name);
  if (kept !== undefined) return kept;
  const reply = sock.request(RTM_GETLINK, 0, ifinfo({}, [[IFLA_IFNAME, name], [IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS]]));
  if (reply.kind !== 'data') {
    check(reply, name);
    throw new Refused(`no answer about device "${name}"`);
  }
  const index = ifindexOf(reply.body);
  known.set(name, index);
  return index;
}

const familyOf = (bytes: number[]) => (bytes.length === 4 ? AF_INET : AF_INET6);

function addVeth(sock: NetlinkSocket, op: Extract<LinkOp, { op: 'add-veth' }>): void {
  let fd: number;
  try {
    fd = openSync(op.peerNetns, 'r');
  } catch (err) {
    throw new Refused(`Invalid "netns" value "${op.peerNetns}": ${(err as Error).message}`);
  }
  try {
    const peer = ifinfo({}, [[IFLA_IFNAME, op.peer], [IFLA_NET_NS_FD, fd]]);
    const info: Attr[] = [[IFLA_INFO_KIND, 'veth'], [IFLA_INFO_DATA, [[VETH_INFO_PEER, peer]]]];
    check(sock.request(RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, ifinfo({}, [[IFLA_IFNAME, op.name], [IFLA_LINKINFO, info]])));
  } finally {
    closeSync(fd);
  }
}

function setLink(sock: NetlinkSocket, op: Extract<LinkOp, { op: 'set' }>): void {
  const attrs: Attr[] = [[IFLA_IFNAME, op.name]];
  if (op.mtu !== undefined) attrs.push([IFLA_MTU, op.mtu]);
  if (op.alias !== undefined) attrs.push([IFLA_IFALIAS, Buffer.from(op.alias)]);
  if (op.group !== undefined) attrs.push([IFLA_GROUP, op.group]);
  const up = op.up ? IFF_UP : 0;
  check(sock.request(RTM_NEWLINK, NLM_F_ACK, ifinfo({ flags: up, change: up }, attrs)), op.name);
}

/**
 * Carries out one operation, as `ip` would for the line it came from; throws Refused.
 * `indexes` holds the interface indexes known so far, as `ip` keeps them through a batch.
 */
export function execute(sock: NetlinkSocket, op: LinkOp, indexes: Map<string, number>): void {
  switch (op.op) {
    case 'add-veth':
      return addVeth(sock, op);
    case 'set':
      return setLink(sock, op);
    case 'delete-group':
      indexes.clear();
      return check(sock.request(RTM_DELLINK, NLM_F_ACK, ifinfo({}, [[IFLA_GROUP, op.group]])));
    case 'address': {
      const index = ifindex(sock, op.name, indexes);
      const a = Uint8Array.from(op.address);
      return check(sock.request(RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, ifaddr(familyOf(op.address), op.prefixLen, index, [[IFA_LOCAL, a], [IFA_ADDRESS, a]])));
    }
    case 'route': {
      const index = ifindex(sock, op.name, indexes);
      const family = familyOf(op.dst);
      // As `ip route`: a route without a gateway is on-link; IPv6 routes are universe unless told.
      const scope = op.scopeLink || (!op.via && family === AF_INET) ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
      const attrs: Attr[] = [[RTA_DST, Uint8Array.from(op.dst)], [RTA_OIF, index]];
      if (op.via) attrs.push([RTA_GATEWAY, Uint8Array.from(op.via)]);
      return check(sock.request(RTM_NEWROUTE, NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, rtmsg(family, op.dstLen, scope, attrs)));
    }
  }
}
