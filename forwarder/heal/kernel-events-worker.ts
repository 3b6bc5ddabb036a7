import { parentPort } from 'node:worker_threads';
import { constants } from 'node:os';
import koffi from 'koffi';
import { AF_NETLINK, errno, NETLINK_ROUTE, setsockopt, socket, SOCK_CLOEXEC, SOCK_RAW, SOL_NETLINK, recv, strerror } from '../dataplane/netlink/libc.ts';
import { parseKernelEvents } from './kernel-event-parse.ts';

/**
 * Listens on one rtnetlink socket in the forwarder's namespace for link removals and namespace
 * ends in every namespace that has an id here (NETLINK_LISTEN_ALL_NSID), and posts those that
 * concern nsm links to the main thread. Blocking receives with a timeout, so that terminate()
 * takes effect within it.
 */
const NETLINK_ADD_MEMBERSHIP = 1;
const NETLINK_LISTEN_ALL_NSID = 8;
const RTNLGRP_LINK = 1;
const RTNLGRP_NSID = 28;
const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;
const SO_RCVBUFFORCE = 33;
const RECEIVE_BUFFER = 8 * 1024 * 1024;

const bind = koffi.load('libc.so.6').func('int bind(int fd, void *addr, uint32_t len)') as (fd: number, addr: Buffer, len: number) => number;

const int = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n);
  return b;
};

function listen(): number {
  const fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) throw new Error(`cannot open a netlink socket: ${strerror(errno())}`);
  const address = Buffer.alloc(12);
  address.writeUInt16LE(AF_NETLINK, 0);
  if (bind(fd, address, address.length) !== 0) throw new Error(`cannot bind the netlink socket: ${strerror(errno())}`);
  for (const group of [RTNLGRP_LINK, RTNLGRP_NSID]) {
    if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, int(group), 4) !== 0) throw new Error(`cannot join rtnetlink group ${group}: ${strerror(errno())}`);
  }
  if (setsockopt(fd, SOL_NETLINK, NETLINK_LISTEN_ALL_NSID, int(1), 4) !== 0) throw new Error(`cannot listen to other namespaces: ${strerror(errno())}`);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, int(RECEIVE_BUFFER), 4);
  const timeout = Buffer.alloc(16);
  timeout.writeBigInt64LE(0n, 0);
  timeout.writeBigInt64LE(500_000n, 8);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, timeout, 16);
  return fd;
}

let fd: number;
try {
  fd = listen();
  parentPort!.postMessage({ kind: 'ready' });
} catch (err) {
  parentPort!.postMessage({ kind: 'failed', message: (err as Error).message });
  process.exit(0);
}
const buf = Buffer.alloc(256 * 1024);
for (;;) {
  const n = recv(fd, buf, buf.length, 0);
  if (n < 0) {
    const e = errno();
    if (e === constants.errno.EAGAIN || e === constants.errno.EINTR) continue;
    // The kernel dropped messages: the main thread checks what it watches.
    if (e === constants.errno.ENOBUFS) {
      parentPort!.postMessage({ kind: 'overrun' });
      continue;
    }
    parentPort!.postMessage({ kind: 'failed', message: `netlink receive: ${strerror(e)}` });
    break;
  }
  const events = parseKernelEvents(buf, n);
  if (events.length > 0) parentPort!.postMessage({ kind: 'events', events });
}
