import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { NsmError } from '../sdk/errors.ts';
import { paths } from './state.ts';
import type { Manifest, Pod } from './workload.ts';

/** Kubernetes' rules for a ConfigMap's name (a DNS subdomain) and its keys, which become file names here. */
const CONFIGMAP_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const CONFIGMAP_KEY = /^[-._a-zA-Z0-9]{1,253}$/;

/** Keeps a ConfigMap's data for the pods that mount it. */
export function storeConfigMap(doc: Manifest): void {
  const name = doc.metadata?.name ?? '';
  if (!CONFIGMAP_NAME.test(name)) throw new NsmError('INVALID_ARGUMENT', `ConfigMap ${JSON.stringify(name)}: a name is lower-case letters, digits, - and ., starting and ending with a letter or digit`);
  const data = doc.data ?? {};
  for (const [key, value] of Object.entries(data)) {
    if (!CONFIGMAP_KEY.test(key) || key === '.' || key === '..') throw new NsmError('INVALID_ARGUMENT', `ConfigMap ${name}: key ${JSON.stringify(key)} is not a valid key (letters, digits, -, _ and .)`);
    if (typeof value !== 'string') throw new NsmError('INVALID_ARGUMENT', `ConfigMap ${name}: data[${JSON.stringify(key)}] is not a string`);
  }
  const path = paths.configMap(name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(data));
}

/** As kubelet projects a ConfigMap volume: each key a file in the pod's volume directory, with the volume's defaultMode. */
export function projectConfigMaps(pod: Pod): void {
  const name = pod.metadata.name;
  for (const v of pod.spec.volumes ?? []) {
    if (!v.configMap) continue;
    const stored = paths.configMap(v.configMap.name);
    if (!CONFIGMAP_NAME.test(v.configMap.name) || !existsSync(stored)) {
      throw new NsmError('FAILED_PRECONDITION', `pod ${name}: volume ${v.name} mounts ConfigMap ${v.configMap.name}, which is not applied; apply it first (or in the same files)`);
    }
    const dir = join(paths.pod(name), 'volumes', v.name);
    mkdirSync(dir, { recursive: true });
    for (const [key, value] of Object.entries(JSON.parse(readFileSync(stored, 'utf8')) as Record<string, string>)) {
      writeFileSync(join(dir, key), value);
      chmodSync(join(dir, key), (v.configMap.defaultMode ?? 0o644) & 0o777);
    }
  }
}
