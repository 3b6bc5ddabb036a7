import { createHash } from 'node:crypto';
import { chmod, chown, link, lstat, mkdir, readdir, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { MemifOwner } from '../../proto/memif.ts';
import { NsmError } from '../../sdk/errors.ts';

export const DEFAULT_MEMIF_DIR = '/var/lib/networkservicemesh/memif';
const SOCKET_NAME = 'memif.sock';
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,47}$/;

/** A connection's directory name: its id when short and plain, else a hash of it (socket paths are limited to 107 bytes). */
export function connectionDirName(connId: string): string {
  return SAFE_NAME.test(connId) ? connId : `h-${createHash('sha256').update(connId).digest('hex').slice(0, 24)}`;
}

const errno = (err: unknown) => (err as NodeJS.ErrnoException).code;

/**
 * Hands a client the endpoint's memif socket: `<root>/<connId>/memif.sock` is a hard link to the
 * socket inode the endpoint application listens on (connect(2) through a hard link reaches the same
 * listener). The directory is 0700 and owned by the client's uid/gid when the client named them
 * (root otherwise), so only that user reaches the socket through it; the root directory is 0711
 * (not listable). The link is made again when the endpoint application re-created its socket.
 */
export class MemifRendezvous {
  readonly root: string;
  readonly #leftover = new Set<string>();

  constructor(root: string) {
    this.root = root;
  }

  socketOf(connId: string): string {
    return join(this.root, connectionDirName(connId), SOCKET_NAME);
  }

  async ensure(connId: string, endpointSocket: string, owner: MemifOwner): Promise<string> {
    const target = await lstat(endpointSocket).catch(() => undefined);
    if (!target?.isSocket()) {
      throw new NsmError('FAILED_PRECONDITION', `the endpoint's memif socket ${endpointSocket} ${target ? 'is not a socket' : 'does not exist'}: is the endpoint application listening on it as memif server (with a filesystem socket, e.g. DPDK socket-abstract=no)?`);
    }
    this.#leftover.delete(connectionDirName(connId));
    const dir = join(this.root, connectionDirName(connId));
    await mkdir(this.root, { recursive: true, mode: 0o711 });
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chown(dir, owner.uid ?? 0, owner.gid ?? 0);
    await chmod(dir, 0o700);
    const path = join(dir, SOCKET_NAME);
    const have = await lstat(path).catch(() => undefined);
    if (have && have.ino === target.ino && have.dev === target.dev) return path;
    if (have) await unlink(path);
    try {
      await link(endpointSocket, path);
    } catch (err) {
      if (errno(err) === 'EXDEV') {
        throw new NsmError('FAILED_PRECONDITION', `cannot hand out ${endpointSocket}: it is on another filesystem than the memif directory ${this.root}; put the endpoint's socket in the shared socket directory (/var/lib/networkservicemesh)`, { cause: err });
      }
      throw err;
    }
    return path;
  }

  async remove(connId: string): Promise<void> {
    this.#leftover.delete(connectionDirName(connId));
    await rm(join(this.root, connectionDirName(connId)), { recursive: true, force: true });
  }

  /** Remembers what a previous forwarder left, so `expire` can remove what no refresh claimed. */
  async scan(): Promise<number> {
    for (const name of await readdir(this.root).catch(() => [] as string[])) this.#leftover.add(name);
    return this.#leftover.size;
  }

  async expire(): Promise<void> {
    const names = [...this.#leftover];
    this.#leftover.clear();
    await Promise.all(names.map((n) => rm(join(this.root, n), { recursive: true, force: true })));
  }
}
