import t from 'tap';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile instructions, with comments dropped and continuation lines joined. */
export function instructions(text: string): Instruction[] {
  const joined = text.replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const m = /^(\w+)\s+(.*)$/.exec(l);
      if (!m) throw new Error(`bad line: ${l}`);
      return { op: (m[1]).toUpperCase(), args: (m[2]).replace(/\s+/g, ' ') };
    });
}

function stages(ins: Instruction[]): Instruction[][] {
  const out: Instruction[][] = [];
  for (const i of ins) {
    if (i.op === 'FROM') out.push([]);
    out.at(-1)?.push(i);
  }
  return out;
}

const RUNTIME_DIRS = ['bin', 'proto', 'sdk', 'webhook', 'sidecar', 'forwarder'];

function lint(text: string, cmd: string[], needsIproute: boolean): string[] {
  const problems: string[] = [];
  const ins = instructions(text);
  const st = stages(ins);
  if (st.length < 2) problems.push('not multi-stage');
  for (const s of st) {
    const from = s[0]?.args ?? '';
    if (!/^node:24\.\d+\.\d+-slim(@sha256:[0-9a-f]{64})?( AS \w+)?$/i.test(from)) problems.push(`base not pinned node:24.x.y-slim: ${from}`);
  }
  const runs = ins.filter((i) => i.op === 'RUN').map((i) => i.args);
  const npmCi = runs.filter((r) => /\bnpm (ci|install)\b/.test(r));
  if (npmCi.length === 0 || !npmCi.every((r) => /npm ci\b.*--omit=dev/.test(r))) problems.push('dependencies not installed with npm ci --omit=dev');
  const final = st.at(-1) ?? [];
  const users = final.filter((i) => i.op === 'USER');
  const user = users.at(-1)?.args ?? '';
  if (!/^(65532(:65532)?|node)$/.test(user)) problems.push(`final stage does not end as a non-root user: '${user}'`);
  const lastUser = final.lastIndexOf(users.at(-1) as Instruction);
  if (final.slice(lastUser + 1).some((i) => i.op === 'RUN' || i.op === 'COPY')) problems.push('instructions after USER run as that user');
  for (const c of ins.filter((i) => i.op === 'COPY' || i.op === 'ADD')) {
    if (c.op === 'ADD') problems.push(`ADD used: ${c.args}`);
    const sources = c.args.replace(/--\w+=\S+ /g, '').split(' ').slice(0, -1);
    for (const s of sources) {
      if (s === '.' || /^(\.\/)?(test|bench|examples|sandbox|manifests|\.git|\.tap|coverage|node_modules)\b/.test(s) && !c.args.includes('--from=')) {
        problems.push(`copies ${s}`);
      }
    }
  }
  const copied = final.filter((i) => i.op === 'COPY' && !i.args.includes('--from=')).map((i) => i.args.split(' ')[0]?.replace(/^\.\//, ''));
  for (const d of RUNTIME_DIRS) if (!copied.includes(d)) problems.push(`does not copy ${d}/`);
  for (const f of copied) if (!RUNTIME_DIRS.includes(f) && f !== 'package.json') problems.push(`copies ${f}, which does not run`);
  if (!final.some((i) => i.op === 'COPY' && /--from=deps \/app\/node_modules/.test(i.args))) problems.push('node_modules not taken from the deps stage');
  const labels = final.filter((i) => i.op === 'LABEL').map((i) => i.args).join(' ');
  for (const l of ['title', 'description', 'source', 'licenses', 'version']) {
    if (!labels.includes(`org.opencontainers.image.${l}=`)) problems.push(`missing OCI label ${l}`);
  }
  const entry = final.find((i) => i.op === 'ENTRYPOINT')?.args;
  if (entry !== '["node", "/app/bin/nsm.ts"]') problems.push(`ENTRYPOINT is ${entry}`);
  const cmdLine = final.find((i) => i.op === 'CMD')?.args;
  if (cmdLine !== JSON.stringify(cmd).replaceAll(',', ', ')) problems.push(`CMD is ${cmdLine}`);
  const installsIproute = final.some((i) => i.op === 'RUN' && /apt-get install -y --no-install-recommends iproute2/.test(i.args) && /rm -rf \/var\/lib\/apt\/lists/.test(i.args));
  if (needsIproute !== installsIproute) problems.push(needsIproute ? 'iproute2 not installed (with apt lists cleaned)' : 'installs iproute2 it does not need');
  return problems;
}

t.test('Dockerfile.webhook', async (t) => {
  t.same(lint(readFileSync(join(root, 'Dockerfile.webhook'), 'utf8'), ['webhook'], false), []);
});

t.test('Dockerfile.sidecar', async (t) => {
  t.same(lint(readFileSync(join(root, 'Dockerfile.sidecar'), 'utf8'), ['nsc', 'run'], true), []);
});

t.test('the linter finds the problems it looks for', async (t) => {
  const problems = lint('FROM node:latest\nRUN npm install\nCOPY . .\nCOPY test ./test\nUSER root\nCMD ["x"]\n', ['webhook'], true);
  for (const p of [/not multi-stage/, /base not pinned/, /--omit=dev/, /non-root user: 'root'/, /copies \./, /copies test/, /missing OCI label/, /ENTRYPOINT/, /CMD/, /iproute2 not installed/]) {
    t.ok(problems.some((x) => p.test(x)), String(p));
  }
  t.same(instructions('RUN a \\\n  b\n# c\n'), [{ op: 'RUN', args: 'a b' }]);
});

t.test('.dockerignore keeps tests, benchmarks and local state out of the build context', async (t) => {
  const ignored = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
  for (const p of ['node_modules', '.git', 'test', 'bench', '.tap', 'coverage']) t.ok(ignored.includes(p), p);
  for (const d of RUNTIME_DIRS) t.notOk(ignored.includes(d), `${d} stays in the context`);
});
