/** rtnetlink wire format (linux/netlink.h, linux/rtnetlink.h), the few messages the forwarder sends. */

export const RTM_NEWLINK = 16;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_NEWROUTE = 24;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;

const NLMSG_ERROR = 2;
const NLM_F_ACK_TLVS = 0x200;
const NLMSGERR_ATTR_MSG = 1;

export const IFLA_ADDRESS = 1;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFLA_MASTER = 10;
export const IFLA_LINKINFO = 18;
export const IFLA_IFALIAS = 20;
export const IFLA_GROUP = 27;
export const IFLA_NET_NS_FD = 28;
export const IFLA_EXT_MASK = 29;
export const IFLA_INFO_KIND = 1;
export const IFLA_INFO_DATA = 2;
export const IFLA_INFO_SLAVE_KIND = 4;
export const IFLA_INFO_SLAVE_DATA = 5;
export const VETH_INFO_PEER = 1;
export const RTEXT_FILTER_SKIP_STATS = 1 << 3;

/** Bridge attributes (IFLA_INFO_DATA of kind bridge); ageing in hundredths of a second. */
export const IFLA_BR_AGEING_TIME = 4;
export const IFLA_BR_STP_STATE = 5;

/** Bridge port attributes (IFLA_INFO_SLAVE_DATA of slave kind bridge), each a u8. */
export const IFLA_BRPORT_MODE = 4;
export const IFLA_BRPORT_LEARNING = 8;
export const IFLA_BRPORT_UNICAST_FLOOD = 9;
export const IFLA_BRPORT_MCAST_FLOOD = 27;
export const IFLA_BRPORT_BCAST_FLOOD = 30;
export const IFLA_BRPORT_NEIGH_SUPPRESS = 32;
export const IFLA_BRPORT_ISOLATED = 33;

/** VXLAN attributes (IFLA_INFO_DATA of kind vxlan); the port is big-endian. */
export const IFLA_VXLAN_ID = 1;
export const IFLA_VXLAN_GROUP = 2;
export const IFLA_VXLAN_LINK = 3;
export const IFLA_VXLAN_LOCAL = 4;
export const IFLA_VXLAN_PORT = 15;
export const IFLA_VXLAN_GROUP6 = 16;
export const IFLA_VXLAN_LOCAL6 = 17;

export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
export const RTA_DST = 1;
export const RTA_OIF = 4;
export const RTA_GATEWAY = 5;

export const AF_INET = 2;
export const AF_INET6 = 10;
export const IFF_UP = 0x1;
export const RT_TABLE_MAIN = 254;
export const RTPROT_BOOT = 3;
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_LINK = 253;
export const RTN_UNICAST = 1;

const HEADER = 16;
const align = (n: number) => (n + 3) & ~3;

/** An attribute: a number is a u32, a string is NUL-terminated, bytes go as they are; nested lists nest. */
export type Attr = [type: number, value: number | string | Uint8Array | Attr[]];

function attrBytes(attrs: Attr[]): Buffer {
  const parts: Buffer[] = [];
  for (const [type, value] of attrs) {
    let payload: Buffer;
    if (typeof value === 'number') {
      payload = Buffer.alloc(4);
      payload.writeUInt32LE(value >>> 0);
    } else if (typeof value === 'string') payload = Buffer.from(`${value}\0`);
    else if (Array.isArray(value)) payload = attrBytes(value);
    else payload = Buffer.from(value);
    const head = Buffer.alloc(4);
    head.writeUInt16LE(4 + payload.length, 0);
    head.writeUInt16LE(type, 2);
    parts.push(head, payload, Buffer.alloc(align(payload.length) - payload.length));
  }
  return Buffer.concat(parts);
}

/** `struct ifinfomsg` followed by attributes (also the body of a veth peer). */
export function ifinfo(fields: { index?: number; flags?: number; change?: number }, attrs: Attr[]): Buffer {
  const b = Buffer.alloc(16);
  b.writeInt32LE(fields.index ?? 0, 4);
  b.writeUInt32LE(fields.flags ?? 0, 8);
  b.writeUInt32LE(fields.change ?? 0, 12);
  return Buffer.concat([b, attrBytes(attrs)]);
}

/** `struct ifaddrmsg` followed by attributes. */
export function ifaddr(family: number, prefixLen: number, index: number, attrs: Attr[]): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(family, 0);
  b.writeUInt8(prefixLen, 1);
  b.writeUInt32LE(index, 4);
  return Buffer.concat([b, attrBytes(attrs)]);
}

/** `struct rtmsg` (main table, protocol boot, unicast) followed by attributes. */
export function rtmsg(family: number, dstLen: number, scope: number, attrs: Attr[]): Buffer {
  const b = Buffer.from([family, dstLen, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, scope, RTN_UNICAST, 0, 0, 0, 0]);
  return Buffer.concat([b, attrBytes(attrs)]);
}

/** A whole message: `struct nlmsghdr` and the body. */
export function message(type: number, flags: number, seq: number, body: Buffer): Buffer {
  const h = Buffer.alloc(HEADER);
  h.writeUInt32LE(HEADER + body.length, 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt16LE(flags | NLM_F_REQUEST, 6);
  h.writeUInt32LE(seq, 8);
  return Buffer.concat([h, body]);
}

/** What the kernel answered to one request. */
export type Reply =
  | { kind: 'ack' }
  | { kind: 'error'; errno: number; extack?: string }
  | { kind: 'data'; type: number; body: Buffer };

/** The first message of a receive with the given sequence number (others are skipped). */
export function parseReply(buf: Buffer, length: number, seq: number): Reply | undefined {
  for (let off = 0; off + HEADER <= length;) {
    const len = buf.readUInt32LE(off);
    if (len < HEADER || off + len > length) return undefined;
    const type = buf.readUInt16LE(off + 4);
    const flags = buf.readUInt16LE(off + 6);
    if (buf.readUInt32LE(off + 8) === seq) {
      const body = buf.subarray(off + HEADER, off + len);
      if (type !== NLMSG_ERROR) return { kind: 'data', type, body };
      const errno = -body.readInt32LE(0);
      if (errno === 0) return { kind: 'ack' };
      // With NETLINK_CAP_ACK the echoed request is its header only.
      const extack = flags & NLM_F_ACK_TLVS ? stringAttr(body.subarray(4 + HEADER), NLMSGERR_ATTR_MSG) : undefined;
      return { kind: 'error', errno, extack };
    }
    off += align(len);
  }
  return undefined;
}

function stringAttr(attrs: Buffer, wanted: number): string | undefined {
  for (let off = 0; off + 4 <= attrs.length;) {
    const len = attrs.readUInt16LE(off);
    if (len < 4) return undefined;
    if (attrs.readUInt16LE(off + 2) === wanted) return attrs.subarray(off + 4, off + len).toString().replace(/\0+$/, '');
    off += align(len);
  }
  return undefined;
}

/** The interface index of a RTM_NEWLINK answer. */
export const ifindexOf = (body: Buffer) => body.readInt32LE(4);
