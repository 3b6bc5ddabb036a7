import type { GroupOutcome } from '../ip-session.ts';
import type { LinkOp } from './ip-lines.ts';

/** Messages between the netlink runner and its worker thread (outcomes as an `ip` session gives them). */
export type ToWorker =
  | { kind: 'run'; id: number; session: number; netns: string; groups: LinkOp[][] }
  | { kind: 'end'; session: number };

export interface FromWorker {
  id: number;
  outcomes: GroupOutcome[];
}
