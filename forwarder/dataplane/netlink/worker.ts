import { parentPort } from 'node:worker_threads';
import type { GroupOutcome } from '../ip-session.ts';
import { execute, Refused } from './execute.ts';
import type { LinkOp } from './ip-lines.ts';
import { NetlinkSocket, StrandedThread } from './socket.ts';
import type { FromWorker, ToWorker } from './protocol.ts';

/**
 * The kernel side of the netlink runner: one socket per session (a namespace), requests carried
 * out one at a time in the order they arrive. Blocking calls are fine here; this thread does
 * nothing else.
 */
const sockets = new Map<number, NetlinkSocket>();

function runGroup(sock: NetlinkSocket, ops: LinkOp[]): GroupOutcome {
  const failures = new Map<number, string>();
  // Interface indexes looked up in this group; a deletion may free them, so it forgets them.
  const indexes = new Map<string, number>();
  ops.forEach((op, i) => {
    try {
      execute(sock, op, indexes);
    } catch (err) {
      if (!(err instanceof Refused)) throw err;
      failures.set(i, err.message);
    }
  });
  return { kind: 'done', failures };
}

function handle(msg: ToWorker): FromWorker | undefined {
  if (msg.kind === 'end') {
    sockets.get(msg.session)?.close();
    sockets.delete(msg.session);
    return undefined;
  }
  let sock = sockets.get(msg.session);
  if (!sock) {
    try {
      sock = new NetlinkSocket(msg.netns);
    } catch (err) {
      // Ends this thread; its requests fail as `crashed` and the next one starts a new thread.
      if (err instanceof StrandedThread) throw err;
      return { id: msg.id, outcomes: msg.groups.map(() => ({ kind: 'unstarted', message: (err as Error).message })) };
    }
    sockets.set(msg.session, sock);
  }
  const outcomes: GroupOutcome[] = [];
  for (const group of msg.groups) {
    try {
      outcomes.push(runGroup(sock, group));
    } catch (err) {
      // The socket failed (not the kernel refusing a request): the namespace gets a new one.
      sock.close();
      sockets.delete(msg.session);
      outcomes.push({ kind: 'crashed', failures: new Map(), message: (err as Error).message });
      while (outcomes.length < msg.groups.length) outcomes.push({ kind: 'not-run' });
      break;
    }
  }
  return { id: msg.id, outcomes };
}

parentPort!.on('message', (msg: ToWorker) => {
  const reply = handle(msg);
  if (reply) parentPort!.postMessage(reply);
});
