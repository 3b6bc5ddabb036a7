import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../sdk/log.ts';
import { openDirRegistry } from '../sdk/registry/dir-backend.ts';
import { openKubernetesRegistry } from '../sdk/registry/k8s-backend.ts';
import type { RegistryBackend } from '../sdk/registry/types.ts';

const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** NSM_NAMESPACE, else the pod's own namespace, else `default`. */
export function defaultNamespace(configured: string, file = SERVICE_ACCOUNT_NAMESPACE): string {
  if (configured !== '') return configured;
  try {
    return readFileSync(file, 'utf8').trim() || 'default';
  } catch {
    return 'default';
  }
}

/**
 * The shared registry: a directory when one is named (sandbox), otherwise the NSM CRDs through
 * the standard kubeconfig resolution (in-cluster, or KUBECONFIG).
 */
export async function openRegistry(dir: string, namespace: string, log: Logger): Promise<{ backend: RegistryBackend; where: string }> {
  if (dir !== '') return { backend: await openDirRegistry(dir), where: dir };
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  const ns = defaultNamespace(namespace);
  const backend = await openKubernetesRegistry({ kubeConfig, namespace: ns, log });
  return { backend, where: `kubernetes ${kubeConfig.getCurrentCluster()?.server ?? ''} namespace ${ns}` };
}
