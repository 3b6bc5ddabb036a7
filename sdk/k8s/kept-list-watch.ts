import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../log.ts';
import { backgroundClock, retry, type Attempt, type Clock } from '../retry.ts';

export interface KeptListWatchOptions<T extends KubernetesObject> {
  kubeConfig: KubeConfig;
  /** Collection path, e.g. `/api/v1/namespaces`. */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  log: Logger;
  /** What is watched, for the log. */
  resource: string;
  /** First wait before restarting after an error; doubles up to maxRetryDelayMs, resets on a good list. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Wait client-node uses before re-opening a watch that closed cleanly. */
  reconnectDelay?: (ms: number) => Promise<void>;
  /** The restart waits' clock; by default they do not keep the process alive. */
  clock?: Clock;
}

export interface KeptListWatch<T extends KubernetesObject> {
  readonly informer: ListWatch<T>;
  /** The error that broke the list or watch, while it is being restarted; undefined once a list succeeded again. */
  readonly failing: string | undefined;
  /**
   * Starts listing and watching. With `failFast` it resolves after the first list and rejects when
   * that list fails; otherwise it returns at once and keeps retrying in the background.
   */
  start(options?: { failFast?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

/** An error's message with its cause's (fetch says only "fetch failed"; the cause says why). */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? err.cause.message : undefined;
  return cause && !err.message.includes(cause) ? `${err.message} (${cause})` : err.message;
}

const unrefDelay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * client-node's ListWatch kept alive: a 410 Gone relists (ListWatch does that itself); any other
 * list or watch error restarts it after a growing delay instead of leaving the cache stale.
 */
export function keptListWatch<T extends KubernetesObject>(o: KeptListWatchOptions<T>): KeptListWatch<T> {
  /** The running attempt's: a good list starts its backoff afresh. */
  let listedNow: (() => void) | undefined;
  let failing: string | undefined;
  const listed = async () => {
    const result = await o.list();
    failing = undefined;
    listedNow?.();
    return result;
  };
  const informer = new ListWatch<T>(o.path, new Watch(o.kubeConfig), listed, false, undefined, undefined, { delayFn: o.reconnectDelay ?? unrefDelay });
  let stopping: AbortController | undefined;
  let running: Promise<void> | undefined;

  /** One run of the informer: never resolves; fails with its first list or watch error. `started` once start() returned cleanly. */
  const runUntilError = (a: Attempt, started: () => void) => new Promise<never>((_, reject) => {
    let failed = false;
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      informer.off('error', fail);
      a.signal.removeEventListener('abort', aborted);
      listedNow = undefined;
      reject(err);
    };
    const aborted = () => fail(a.signal.reason);
    informer.on('error', fail);
    a.signal.addEventListener('abort', aborted, { once: true });
    listedNow = () => a.reset();
    informer.start().then(() => {
      if (failed) return;
      // Listing (or, with a resource version kept, watching) worked: the cache is current.
      failing = undefined;
      started();
    }, fail);
  });

  return {
    informer,
    get failing() {
      return failing;
    },
    async start({ failFast = false } = {}) {
      if (running) return;
      stopping = new AbortController();
      const first = Promise.withResolvers<void>();
      let startedOnce = false;
      const started = () => {
        startedOnce = true;
        first.resolve();
      };
      running = retry((a) => runUntilError(a, started), {
        signal: stopping.signal, clock: o.clock ?? backgroundClock,
        backoff: { floorMs: o.retryDelayMs ?? 1000, capMs: o.maxRetryDelayMs ?? 30_000 },
        decide: () => (failFast && !startedOnce ? 'stop' : 'retry'),
        onFailure: (f) => {
          failing = describe(f.error);
          if (f.retryInMs === undefined) return;
          o.log.warn({ resource: o.resource, err: f.error instanceof Error ? f.error.message : String(f.error), retryInMs: f.retryInMs }, 'list/watch failed; retrying');
        },
      }).catch(async (err: unknown) => {
        await informer.stop();
        running = undefined;
        if (failFast) first.reject(err);
      });
      if (failFast) await first.promise;
    },
    async stop() {
      stopping?.abort();
      await running;
      await informer.stop();
    },
  };
}
