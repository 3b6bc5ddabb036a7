import { mkdirSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NsmError } from '../sdk/errors.ts';
import { formatDownwardMap } from '../sdk/k8s/downward-api.ts';
import type { DownwardVolume, PodMeta } from './state.ts';
import type { Pod } from './workload.ts';

const DATA = '..data';

/**
 * Writes `files` into `dir` as the kubelet's atomic writer does: into a new timestamped directory,
 * made current by renaming a `..data` symlink over the old one, each file a symlink through
 * `..data`; a reader sees the old set or the new one, never a mix.
 */
export function writeAtomically(dir: string, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  const version = `..${new Date().toISOString().replace(/[-:.]/g, '_')}.${process.hrtime.bigint()}`;
  mkdirSync(join(dir, version));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, version, name), text);
  const tmp = join(dir, `${DATA}_tmp`);
  rmSync(tmp, { force: true });
  symlinkSync(version, tmp);
  renameSync(tmp, join(dir, DATA));
  for (const name of Object.keys(files)) {
    try {
      symlinkSync(join(DATA, name), join(dir, name));
    } catch {
      // already a link through ..data
    }
  }
  for (const old of readdirSync(dir)) if (old.startsWith('..') && old !== DATA && old !== version) rmSync(join(dir, old), { recursive: true, force: true });
}

/** The text of one downward API item of a pod. */
function itemText(meta: PodMeta, fieldPath: string): string {
  const single = /^metadata\.(annotations|labels)\['([^']+)'\]$/.exec(fieldPath);
  if (single) return (single[1] === 'annotations' ? meta.annotations : meta.labels)[single[2]] ?? '';
  switch (fieldPath) {
    case 'metadata.annotations': return formatDownwardMap(meta.annotations);
    case 'metadata.labels': return formatDownwardMap(meta.labels);
    case 'metadata.name': return meta.name;
    case 'metadata.namespace': return meta.namespace;
    default: throw new NsmError('INVALID_ARGUMENT', `pod ${meta.name}: the sandbox projects metadata.annotations, metadata.labels, metadata.name and metadata.namespace in a downwardAPI volume, not ${fieldPath}`);
  }
}

/** The pod's downwardAPI volumes, each in its directory of the pod. */
export function downwardVolumesOf(pod: Pod, volumeDir: (name: string) => string): DownwardVolume[] {
  return (pod.spec.volumes ?? []).flatMap((v) => (v.downwardAPI
    ? [{ dir: volumeDir(v.name), items: (v.downwardAPI.items ?? []).map((i) => ({ path: i.path, fieldPath: i.fieldRef?.fieldPath ?? '' })) }]
    : []));
}

/** Writes (or rewrites, after the pod's metadata changed) every downwardAPI volume of a pod. */
export function projectDownwardVolumes(meta: PodMeta, volumes: readonly DownwardVolume[]): void {
  for (const v of volumes) writeAtomically(v.dir, Object.fromEntries(v.items.map((i) => [i.path, itemText(meta, i.fieldPath)])));
}
