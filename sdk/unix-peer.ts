import { statSync } from 'node:fs';
import type { Socket } from 'node:net';
import koffi from 'koffi';

/** Who is at the other end of a unix socket, as the kernel says (SO_PEERCRED), with its network namespace. */
export interface UnixPeer {
  pid: number;
  uid: number;
  gid: number;
  /** `<dev>:<ino>` of /proc/<pid>/ns/net when the process could still be looked at; undefined otherwise. */
  netns?: string;
}

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
const UCRED_SIZE = 12;

type GetSockOpt = (fd: number, level: number, name: number, value: Buffer, len: number[]) => number;

let getsockopt: GetSockOpt | undefined;
let unavailable: string | undefined;

function load(): GetSockOpt | undefined {
  if (getsockopt || unavailable) return getsockopt;
  try {
    const libc = koffi.load('libc.so.6');
    getsockopt = libc.func('int getsockopt(int fd, int level, int name, _Out_ void *value, _Inout_ uint32_t *len)') as GetSockOpt;
  } catch (err) {
    unavailable = `cannot load libc through koffi: ${(err as Error).message}`;
  }
  return getsockopt;
}

/** Why peer credentials cannot be read on this platform; undefined when they can. */
export function peerCredentialsUnavailable(): string | undefined {
  load();
  return unavailable;
}

/** The key the forwarder uses for a namespace: `<dev>:<ino>` of its nsfs inode. */
export function netnsKeyOfPid(pid: number): string | undefined {
  try {
    const s = statSync(`/proc/${pid}/ns/net`);
    return `${s.dev}:${s.ino}`;
  } catch {
    return undefined;
  }
}

/**
 * The credentials the kernel recorded for the peer of a connected unix socket: for an accepted
 * connection the process that called connect(2), for a connecting socket the process that called
 * listen(2). Read once, when the connection is made; undefined when the socket has no descriptor.
 */
export function peerCredentials(socket: Socket): UnixPeer | undefined {
  const f = load();
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (!f || fd === undefined || fd < 0) return undefined;
  const buf = Buffer.alloc(UCRED_SIZE);
  if (f(fd, SOL_SOCKET, SO_PEERCRED, buf, [UCRED_SIZE]) !== 0) return undefined;
  const pid = buf.readInt32LE(0);
  if (pid <= 0) return undefined;
  return { pid, uid: buf.readUInt32LE(4), gid: buf.readUInt32LE(8), netns: netnsKeyOfPid(pid) };
}
