import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../log.ts';

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
}

export interface KeptListWatch<T extends KubernetesObject> {
  readonly informer: ListWatch<T>;
  /**
   * Starts listing and watching. With `failFast` it resolves after the first list and rejects when
   * that list fails; otherwise it returns at once and keeps retrying in the background.
   */
  start(options?: { failFast?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

const unrefDelay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * client-node's ListWatch kept alive: a 410 Gone relists (ListWatch does that itself); any other
 * list or watch error restarts it after a growing delay instead of leaving the cache stale.
 */
export function keptListWatch<T extends KubernetesObject>(o: KeptListWatchOptions<T>): KeptListWatch<T> {
  const baseDelay = o.retryDelayMs ?? 1000;
  let delay = baseDelay;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let firstError: ((err: unknown) => void) | undefined;
  const listed = async () => {
    const result = await o.list();
    delay = baseDelay;
    return result;
  };
  const informer = new ListWatch<T>(o.path, new Watch(o.kubeConfig), listed, false, undefined, undefined, { delayFn: o.reconnectDelay ?? unrefDelay });
  const restartLater = (err: unknown) => {
    if (firstError) return firstError(err);
    if (stopped) return;
    o.log.warn({ resource: o.resource, err: err instanceof Error ? err.message : String(err), retryInMs: delay }, 'list/watch failed; retrying');
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (!stopped) informer.start().catch(restartLater);
    }, delay);
    timer.unref();
    delay = Math.min(delay * 2, o.maxRetryDelayMs ?? 30_000);
  };
  informer.on('error', restartLater);
  return {
    informer,
    async start({ failFast = false } = {}) {
      stopped = false;
      if (!failFast) {
        informer.start().catch(restartLater);
        return;
      }
      let failure: { err: unknown } | undefined;
      firstError = (err) => {
        failure ??= { err };
      };
      await informer.start().catch((err: unknown) => firstError?.(err));
      firstError = undefined;
      if (failure) {
        await informer.stop();
        throw failure.err;
      }
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await informer.stop();
    },
  };
}
