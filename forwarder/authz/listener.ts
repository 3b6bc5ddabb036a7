import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { peerCredentials, type UnixPeer } from '../../sdk/unix-peer.ts';

const PROBE_TIMEOUT_MS = 1000;

/** The process listening on a unix socket: connect(2) to it and ask the kernel (SO_PEERCRED) who called listen(2). */
function probe(path: string): Promise<UnixPeer | undefined> {
  return new Promise((resolve) => {
    const socket = connect(path);
    const done = (peer: UnixPeer | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(peer);
    };
    const timer = setTimeout(() => done(undefined), PROBE_TIMEOUT_MS);
    socket.once('connect', () => done(peerCredentials(socket)));
    socket.once('error', () => done(undefined));
  });
}

/**
 * Who serves each unix socket, asked once per socket file: a socket re-created is asked again, and
 * so is one whose listener is no longer running. A file is told from its successor by inode and
 * change time together, since a filesystem hands a freed inode number to the next file (an endpoint
 * pod recreated under its name binds the same path at once).
 */
export class SocketListeners {
  readonly #known = new Map<string, { file: string; peer: UnixPeer }>();

  async of(path: string): Promise<UnixPeer | undefined> {
    const s = await stat(path, { bigint: true }).catch(() => undefined);
    if (!s?.isSocket()) {
      this.#known.delete(path);
      return undefined;
    }
    const file = `${s.ino}:${s.ctimeNs}`;
    const kept = this.#known.get(path);
    if (kept && kept.file === file && existsSync(`/proc/${kept.peer.pid}`)) return kept.peer;
    const peer = await probe(path);
    if (peer?.netns) this.#known.set(path, { file, peer });
    return peer;
  }
}
