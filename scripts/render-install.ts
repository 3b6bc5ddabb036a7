// Writes manifests/install.yaml from the Helm chart (default values). `--check` only compares
// and exits 1 when the committed file is out of date.

import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultChartDir, renderInstall } from '../manifests/render/install.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, 'manifests', 'install.yaml');
const fresh = renderInstall(defaultChartDir(root));

if (process.argv.includes('--check')) {
  if (readFileSync(target, 'utf8') !== fresh) {
    process.stderr.write('manifests/install.yaml is out of date: run node scripts/render-install.ts\n');
    process.exit(1);
  }
} else {
  writeFileSync(target, fresh);
  process.stdout.write(`wrote ${target}\n`);
}
