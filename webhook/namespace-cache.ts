import { CoreV1Api, ListWatch, Watch, type KubeConfig, type V1Namespace } from '@kubernetes/client-node';
import type { Logger } from '../sdk/log.ts';
import type { NamespaceLookup } from './admission.ts';
import { namespaceInfo } from './namespace-info.ts';

export interface NamespaceCache {
  lookup: NamespaceLookup;
  /** True once the first list has arrived; stays true while the watch reconnects. */
  synced(): boolean;
  stop(): Promise<void>;
}

export interface NamespaceCacheOptions {
  /** First wait before restarting after a list or watch error; doubles up to maxRetryDelayMs. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Wait used by the watch before reconnecting after a clean close (client-node's own backoff). */
  reconnectDelay?: (ms: number) => Promise<void>;
}

/**
 * Namespaces from a list + watch cache (never a GET per admission request). A 410 Gone relists;
 * any other list or watch error restarts the informer after a growing delay.
 */
export function startNamespaceCache(kc: KubeConfig, logger: Logger, opts: NamespaceCacheOptions = {}): NamespaceCache {
  const api = kc.makeApiClient(CoreV1Api);
  let synced = false;
  let stopped = false;
  let retryTimer: NodeJS.Timeout | undefined;
  const baseDelay = opts.retryDelayMs ?? 1000;
  let delay = baseDelay;
  const list = async () => {
    const result = await api.listNamespace();
    if (!synced) logger.info({ namespaces: result.items.length }, 'namespace cache synced');
    synced = true;
    delay = baseDelay;
    return result;
  };
  const informer = new ListWatch<V1Namespace>('/api/v1/namespaces', new Watch(kc), list, false, undefined, undefined, {
    delayFn: opts.reconnectDelay ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms).unref())),
  });
  informer.on('error', (err: unknown) => {
    if (stopped) return;
    logger.warn({ err: err instanceof Error ? err.message : String(err), retryInMs: delay }, 'namespace list/watch failed; retrying');
    retryTimer = setTimeout(() => {
      if (!stopped) void informer.start();
    }, delay);
    retryTimer.unref();
    delay = Math.min(delay * 2, opts.maxRetryDelayMs ?? 30_000);
  });
  void informer.start();
  return {
    lookup: (name) => {
      const ns = informer.get(name);
      return ns === undefined ? undefined : namespaceInfo(ns);
    },
    synced: () => synced,
    stop: async () => {
      stopped = true;
      clearTimeout(retryTimer);
      await informer.stop();
    },
  };
}
