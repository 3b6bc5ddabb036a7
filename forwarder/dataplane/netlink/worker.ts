import { parentPort } from 'node:worker_threads';
import type { KernelOp } from '../kernel-op.ts';
import { execute, Refused } from './execute.ts';
import type { FromWorker, GroupResult, ToWorker } from './protocol.ts';
import { NetlinkSocket, StrandedThread } from './socket.ts';

/**
 * The kernel side of the netlink runner: one socket per session (a namespace), requests carried
 * out one at a time in the order they arrive. Blocking calls are fine here; this thread does
 * nothing else.
 */
const sockets = new Map<number, NetlinkSocket>();

function runGroup(sock: NetlinkSocket, ops: readonly KernelOp[]): GroupResult {
  let refused: GroupResult | undefined;
  // Interface indexes looked up in this group, as `ip` keeps them through a batch.
  const indexes = new Map<string, number>();
  ops.forEach((op, index) => {
    try {
      execute(sock, op, indexes);
    } catch (err) {
      if (!(err instanceof Refused)) throw err;
      refused ??= { kind: 'refused', index, errno: err.errno, words: err.message };
    }
  });
  return refused ?? { kind: 'done' };
}

/** The session's socket, opened when first needed; throws when the namespace cannot be entered. */
function socketOf(session: number, netns: string): NetlinkSocket {
  let sock = sockets.get(session);
  if (!sock) {
    sock = new NetlinkSocket(netns);
    sockets.set(session, sock);
  }
  return sock;
}

function runRequest(msg: Extract<ToWorker, { kind: 'run' }>): FromWorker {
  const results = msg.groups.map((group): GroupResult => {
    let sock: NetlinkSocket;
    try {
      sock = socketOf(msg.session, msg.netns);
    } catch (err) {
      // Ends this thread; its request fails and the later ones go to a new thread.
      if (err instanceof StrandedThread) throw err;
      return { kind: 'unreachable', words: (err as Error).message };
    }
    try {
      return runGroup(sock, group);
    } catch (err) {
      // The socket failed (not the kernel refusing a request): the next group gets a new one.
      sock.close();
      sockets.delete(msg.session);
      return { kind: 'died', words: (err as Error).message };
    }
  });
  return { id: msg.id, results };
}

parentPort!.on('message', (msg: ToWorker) => {
  if (msg.kind === 'end') {
    sockets.get(msg.session)?.close();
    sockets.delete(msg.session);
    return;
  }
  parentPort!.postMessage(runRequest(msg));
});
