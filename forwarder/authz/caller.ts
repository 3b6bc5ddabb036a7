import { readFileSync } from 'node:fs';
import type { Ctx } from '../../sdk/chain/types.ts';
import { peerKey } from '../../sdk/grpc/call-ctx.ts';

/**
 * Who sent a call, as far as the forwarder can tell:
 * - `local`: a process on this node, identified by the kernel over the unix socket;
 * - `unidentified`: a unix caller whose credentials or namespace could not be read (trusted with nothing);
 * - `peer`: another forwarder over the peer port (mutual TLS), trusted for the path it carries;
 * - `in-process`: a chain called directly, not over gRPC.
 */
export type Caller =
  | { kind: 'local'; pid: number; uid: number; gid: number; netns: string }
  | { kind: 'unidentified'; pid?: number }
  | { kind: 'peer'; address: string }
  | { kind: 'in-process' };

export function callerOf(ctx: Ctx): Caller {
  const peer = peerKey.get(ctx);
  if (!peer) return { kind: 'in-process' };
  if (peer.unix === undefined) return { kind: 'peer', address: peer.address };
  if (peer.unix === null || peer.unix.netns === undefined) return { kind: 'unidentified', pid: peer.unix?.pid };
  return { kind: 'local', pid: peer.unix.pid, uid: peer.unix.uid, gid: peer.unix.gid, netns: peer.unix.netns };
}

/** The caller's namespace in the form clients name it: `inode://<dev>/<ino>`. */
export const netnsUrlOf = (netnsKey: string) => `inode://${netnsKey.replace(':', '/')}`;

/** The pod of a process, from its cgroup path (kubepods...pod<uid>), where it runs in one. */
export function podOf(pid: number): string | undefined {
  try {
    const m = /pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})/.exec(readFileSync(`/proc/${pid}/cgroup`, 'utf8'));
    return m?.[1].replaceAll('_', '-');
  } catch {
    return undefined;
  }
}

/** What a log line says of a caller: identity only, never what it sent. */
export function describeCaller(c: Caller): Record<string, unknown> {
  if (c.kind === 'local') return { kind: c.kind, pid: c.pid, uid: c.uid, gid: c.gid, netns: netnsUrlOf(c.netns), pod: podOf(c.pid) };
  if (c.kind === 'unidentified') return { kind: c.kind, pid: c.pid };
  if (c.kind === 'peer') return { kind: c.kind, address: c.address };
  return { kind: c.kind };
}
