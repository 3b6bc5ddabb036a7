import type { KernelOp, OpName } from '../kernel-op.ts';

/**
 * The ops the netlink thread carries out. The others go to `ip`: deletions (a deletion sleeps
 * tens of milliseconds in the kernel, and `ip` processes in many namespaces sleep side by side
 * where one thread would queue them) and GRE devices (this kernel has no GRE to test them on).
 */
export const OVER_NETLINK: ReadonlySet<OpName> = new Set<OpName>(['add-veth', 'set-link', 'add-address', 'replace-route', 'add-bridge', 'set-bridge-port', 'move-link', 'rename-link', 'add-vxlan']);

/** Messages between the netlink runner and its worker thread. */
export type ToWorker =
  | { kind: 'run'; id: number; session: number; netns: string; groups: readonly (readonly KernelOp[])[] }
  | { kind: 'end'; session: number };

/** How one group went: every op ran, or the first refusal (op index, errno, words), or the group could not run whole. */
export type GroupResult =
  | { kind: 'done' }
  | { kind: 'refused'; index: number; errno: number; words: string }
  | { kind: 'unreachable'; words: string }
  | { kind: 'died'; words: string };

export interface FromWorker {
  id: number;
  results: GroupResult[];
}
