import { CoreV1Api, type KubeConfig, type V1Namespace } from '@kubernetes/client-node';
import { keptListWatch } from '../sdk/k8s/kept-list-watch.ts';
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
  const kept = keptListWatch<V1Namespace>({
    kubeConfig: kc,
    path: '/api/v1/namespaces',
    resource: 'namespaces',
    log: logger,
    retryDelayMs: opts.retryDelayMs,
    maxRetryDelayMs: opts.maxRetryDelayMs,
    reconnectDelay: opts.reconnectDelay,
    list: async () => {
      const result = await api.listNamespace();
      if (!synced) logger.info({ namespaces: result.items.length }, 'namespace cache synced');
      synced = true;
      return result;
    },
  });
  void kept.start();
  return {
    lookup: (name) => {
      const ns = kept.informer.get(name);
      return ns === undefined ? undefined : namespaceInfo(ns);
    },
    synced: () => synced,
    stop: () => kept.stop(),
  };
}
