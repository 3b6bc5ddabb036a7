import type { LinkOp } from './ip-lines.ts';

/** Messages between the netlink runner and its worker thread. */
export type ToWorker =
  | { kind: 'run'; id: number; session: number; netns: string; groups: LinkOp[][] }
  | { kind: 'end'; session: number };

export type WorkerOutcome =
  | { kind: 'done'; failures: [number, string][] }
  | { kind: 'crashed'; failures: [number, string][]; message: string }
  | { kind: 'not-run' }
  | { kind: 'unstarted'; message: string };

export interface FromWorker {
  id: number;
  outcomes: WorkerOutcome[];
}
