// Writes manifests/install.yaml from the Helm chart (default values). `--check` only compares
// and exits 1 when the committed file is out of date.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chartDir, renderInstall } from './install-manifest.ts';

const target = join(chartDir, '..', '..', 'install.yaml');
const fresh = await renderInstall();

if (process.argv.includes('--check')) {
  if (readFileSync(target, 'utf8') !== fresh) {
    process.stderr.write('manifests/install.yaml is out of date: run npm run render:install\n');
    process.exit(1);
  }
} else {
  writeFileSync(target, fresh);
  process.stdout.write(`wrote ${target}\n`);
}
