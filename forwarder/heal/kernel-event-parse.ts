const RTM_DELLINK = 17;
const RTM_DELNSID = 89;
export const NETNSA_NSID = 1;
const IFLA_IFNAME = 3;
const IFLA_IFALIAS = 20;
const IFLA_GROUP = 27;
const IFINFOMSG = 16;
const HEADER = 16;

/** The 32-bit attribute `wanted` of an rtgenmsg body (namespace id messages). */
export function nsidAttr(body: Buffer, wanted = NETNSA_NSID): number | undefined {
  for (let off = 4; off + 8 <= body.length;) {
    const len = body.readUInt16LE(off);
    if (len < 4) return undefined;
    if (body.readUInt16LE(off + 2) === wanted && len >= 8) return body.readInt32LE(off + 4);
    off += (len + 3) & ~3;
  }
  return undefined;
}

/** What the kernel told: a link carrying an nsm alias was removed; a namespace with an id here ended. */
export type KernelEvent =
  | { kind: 'link-gone'; ifname: string; alias: string; group: number }
  | { kind: 'netns-gone'; nsid: number };

function linkAttrs(body: Buffer): { ifname: string; alias: string; group: number } {
  const out = { ifname: '', alias: '', group: 0 };
  for (let off = IFINFOMSG; off + 4 <= body.length;) {
    const len = body.readUInt16LE(off);
    if (len < 4 || off + len > body.length) break;
    const type = body.readUInt16LE(off + 2) & 0x3fff;
    const value = body.subarray(off + 4, off + len);
    if (type === IFLA_IFNAME) out.ifname = value.toString().replace(/\0+$/, '');
    else if (type === IFLA_IFALIAS) out.alias = value.toString().replace(/\0+$/, '');
    else if (type === IFLA_GROUP && value.length >= 4) out.group = value.readUInt32LE(0);
    off += (len + 3) & ~3;
  }
  return out;
}

/** The events in one receive: removals of links whose alias starts with `nsm:`, and namespace ends. */
export function parseKernelEvents(buf: Buffer, length: number): KernelEvent[] {
  const events: KernelEvent[] = [];
  for (let off = 0; off + HEADER <= length;) {
    const len = buf.readUInt32LE(off);
    if (len < HEADER || off + len > length) break;
    const type = buf.readUInt16LE(off + 4);
    const body = buf.subarray(off + HEADER, off + len);
    if (type === RTM_DELLINK) {
      const link = linkAttrs(body);
      if (link.alias.startsWith('nsm:')) events.push({ kind: 'link-gone', ...link });
    } else if (type === RTM_DELNSID) {
      const nsid = nsidAttr(body);
      if (nsid !== undefined) events.push({ kind: 'netns-gone', nsid });
    }
    off += (len + 3) & ~3;
  }
  return events;
}
