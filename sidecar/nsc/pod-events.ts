import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../../sdk/log.ts';

export interface PodRef {
  name: string;
  namespace: string;
}

/** Reports what the sidecar could not do on the pod itself, as a Warning Event (what `kubectl describe pod` shows). */
export type ProblemReporter = (reason: string, message: string) => Promise<void>;

/**
 * A reporter that logs each problem, and creates an Event on the pod when the Kubernetes API can be
 * reached: in a cluster (the pod's service account, which needs `create` on `events` in its
 * namespace) or with KUBECONFIG. An Event that cannot be made is logged once, with the reason.
 */
export function podProblemReporter(pod: PodRef, log: Logger, env: NodeJS.ProcessEnv = process.env): ProblemReporter {
  let api: CoreV1Api | undefined;
  if (pod.namespace !== '' && (env.KUBERNETES_SERVICE_HOST || env.KUBECONFIG)) {
    try {
      const kc = new KubeConfig();
      kc.loadFromDefault();
      api = kc.makeApiClient(CoreV1Api);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'no Kubernetes API: problems are only logged');
    }
  }
  let told = false;
  return async (reason, message) => {
    log.warn({ reason }, message);
    if (!api) return;
    const now = new Date();
    try {
      await api.createNamespacedEvent({
        namespace: pod.namespace,
        body: {
          metadata: { generateName: `${pod.name}.`, namespace: pod.namespace },
          involvedObject: { apiVersion: 'v1', kind: 'Pod', name: pod.name, namespace: pod.namespace },
          type: 'Warning',
          reason,
          message,
          source: { component: 'nsm-nsc' },
          reportingComponent: 'networkservicemesh.io/nsc',
          reportingInstance: pod.name,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
    } catch (err) {
      if (told) return;
      told = true;
      log.warn({ err: (err as Error).message.split('\n')[0] }, 'could not create an Event on the pod; problems are logged here (in a cluster, the pod\'s service account needs create on events)');
    }
  };
}
