import { closeSync, openSync } from 'node:fs';
import { constants } from 'node:os';
import { NLM_F_ACK } from '../dataplane/netlink/messages.ts';
import { NetlinkSocket } from '../dataplane/netlink/socket.ts';
import { NETNSA_NSID, nsidAttr } from './kernel-event-parse.ts';

/** rtnetlink namespace ids (linux/net_namespace.h). */
const RTM_NEWNSID = 88;
const RTM_GETNSID = 90;
const NETNSA_FD = 3;
const NSID_NOT_ASSIGNED = -1;

/** `struct rtgenmsg` (padded to 4 bytes) and 32-bit attributes. */
function rtgen(attrs: Array<[type: number, value: number]>): Buffer {
  const b = Buffer.alloc(4 + attrs.length * 8);
  attrs.forEach(([type, value], i) => {
    b.writeUInt16LE(8, 4 + i * 8);
    b.writeUInt16LE(type, 6 + i * 8);
    b.writeInt32LE(value, 8 + i * 8);
  });
  return b;
}

/**
 * Gives other network namespaces an id in this one (`ip netns set NAME auto` does the same), so
 * a listener here hears their link changes and their end (RTM_DELNSID). An id holds no reference:
 * the kernel drops it when that namespace dies. Blocking calls that the kernel answers within the
 * send; the socket is opened at the first one.
 */
export class NamespaceIds {
  #sock: NetlinkSocket | undefined;

  /** The id of the namespace `path` holds, assigning one if it has none. */
  idOf(path: string): number {
    this.#sock ??= new NetlinkSocket('');
    const fd = openSync(path, 'r');
    try {
      const made = this.#sock.request(RTM_NEWNSID, NLM_F_ACK, rtgen([[NETNSA_NSID, NSID_NOT_ASSIGNED], [NETNSA_FD, fd]]));
      if (made.kind === 'error' && made.errno !== constants.errno.EEXIST) throw new Error(`cannot give ${path} a namespace id: errno ${made.errno}${made.extack ? ` (${made.extack})` : ''}`);
      const got = this.#sock.request(RTM_GETNSID, 0, rtgen([[NETNSA_FD, fd]]));
      const id = got.kind === 'data' ? nsidAttr(got.body) : undefined;
      if (id === undefined || id < 0) throw new Error(`the kernel named no namespace id for ${path}`);
      return id;
    } finally {
      closeSync(fd);
    }
  }

  close(): void {
    this.#sock?.close();
    this.#sock = undefined;
  }
}
