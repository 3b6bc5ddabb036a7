// Regenerates proto/gen into a scratch directory and fails when it differs from the committed code.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

const scratch = mkdtempSync(join(tmpdir(), 'nsm-gen-'));
try {
  execFileSync('npx', ['buf', 'generate', '-o', scratch], { stdio: 'inherit' });
  const fresh = join(scratch, 'proto/gen');
  const committed = 'proto/gen';
  const a = files(fresh).map((f) => relative(fresh, f)).sort();
  const b = files(committed).map((f) => relative(committed, f)).sort();
  const problems: string[] = [];
  for (const f of new Set([...a, ...b])) {
    if (!a.includes(f)) problems.push(`${f}: committed but no longer generated`);
    else if (!b.includes(f)) problems.push(`${f}: generated but not committed`);
    else if (readFileSync(join(fresh, f), 'utf8') !== readFileSync(join(committed, f), 'utf8')) problems.push(`${f}: differs from a fresh generation`);
  }
  if (problems.length) {
    console.error(`proto/gen is stale; run \`npm run gen\` and commit:\n  ${problems.join('\n  ')}`);
    process.exit(1);
  }
  console.log(`proto/gen matches a fresh generation (${a.length} files)`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
