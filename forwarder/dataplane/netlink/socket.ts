import { closeSync, openSync } from 'node:fs';
import { AF_NETLINK, close, CLONE_NEWNET, errno, NETLINK_CAP_ACK, NETLINK_EXT_ACK, NETLINK_ROUTE, recv, send, setns, setsockopt, socket, SOCK_CLOEXEC, SOCK_RAW, SOL_NETLINK, strerror } from './libc.ts';
import { message, parseReply, type Reply } from './messages.ts';

const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;
const RECEIVE_TIMEOUT_S = 10;

export class SyscallError extends Error {
  readonly errno: number;
  constructor(what: string, n: number) {
    super(`${what}: ${strerror(n)}`);
    this.errno = n;
  }
}

/** The thread could not return to its own namespace: it must not open another socket. */
export class StrandedThread extends Error {}

let home: number | undefined;

/**
 * Runs `fn` with the calling thread in the namespace `path` holds, and back in its own after.
 * The thread's own namespace is remembered at the first call.
 */
function inNetns<T>(path: string, fn: () => T): T {
  home ??= openSync('/proc/thread-self/ns/net', 'r');
  const fd = openSync(path, 'r');
  try {
    if (setns(fd, CLONE_NEWNET) !== 0) throw new SyscallError(`cannot enter the network namespace ${path}`, errno());
    try {
      return fn();
    } finally {
      // A thread left in a pod's namespace would program the wrong one from then on, so this
      // replaces whatever fn threw.
      // eslint-disable-next-line no-unsafe-finally
      if (setns(home, CLONE_NEWNET) !== 0) throw new StrandedThread(`cannot return to the thread's own network namespace: ${strerror(errno())}`);
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * A blocking rtnetlink socket in one network namespace (`''` = the calling thread's). The kernel
 * carries out a request inside `send`, so its answer is waiting when `recv` runs.
 */
export class NetlinkSocket {
  readonly #fd: number;
  readonly #buf = Buffer.alloc(64 * 1024);
  #seq = 0;

  constructor(netnsPath: string) {
    this.#fd = netnsPath === '' ? open() : inNetns(netnsPath, open);
  }

  /** Sends one request and returns the kernel's answer to it. */
  request(type: number, flags: number, body: Buffer): Reply {
    const seq = ++this.#seq;
    const msg = message(type, flags, seq, body);
    if (send(this.#fd, msg, msg.length, 0) < 0) throw new SyscallError('netlink send', errno());
    // Every earlier request had its answer read (a socket that failed one is closed), so the next
    // message is this one's.
    const n = recv(this.#fd, this.#buf, this.#buf.length, 0);
    if (n < 0) throw new SyscallError('netlink receive', errno());
    const reply = parseReply(this.#buf, n, seq);
    if (!reply) throw new Error(`netlink: the message received is not the answer to request ${seq}`);
    return reply;
  }

  close(): void {
    // Not fs.closeSync: Node warns about descriptors it did not open.
    close(this.#fd);
  }
}

function open(): number {
  const fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) throw new SyscallError('cannot open a netlink socket', errno());
  const one = Buffer.alloc(4);
  one.writeInt32LE(1);
  // Error answers carry the kernel's own message, and not a copy of the request.
  setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, one, 4);
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, one, 4);
  // The kernel answers within the send; should an answer never come, the receive gives up.
  const timeout = Buffer.alloc(16);
  timeout.writeBigInt64LE(BigInt(RECEIVE_TIMEOUT_S));
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, timeout, 16);
  return fd;
}
