import type { Socket } from 'node:net';
import { peerCredentials, type UnixPeer } from '../unix-peer.ts';

/**
 * The peers of the unix connections this process serves, by the token grpc-js reports as a
 * call's peer. grpc-js names a call's peer by its socket's `remoteAddress`, which a unix socket
 * lacks; each accepted socket gets a token there, and its credentials are kept here until it
 * closes.
 */
const peers = new Map<string, UnixPeer | undefined>();
let next = 0;

const PREFIX = 'unix-peer#';

export function identifyUnixPeer(socket: Socket): void {
  const token = `${PREFIX}${++next}`;
  peers.set(token, peerCredentials(socket));
  Object.defineProperty(socket, 'remoteAddress', { value: token, configurable: true });
  socket.once('close', () => peers.delete(token));
}

/**
 * The caller behind `peer` (a call's getPeer()): `undefined` when the call did not come over a
 * unix socket of ours, `null` when it did but the kernel's credentials could not be read.
 */
export function unixPeerOf(peer: string): UnixPeer | null | undefined {
  if (!peer.startsWith(PREFIX)) return undefined;
  return peers.get(peer) ?? null;
}
