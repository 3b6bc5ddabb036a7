/**
 * Forwarder memory under churn: connections set up and closed in rounds through the real gRPC
 * path (one load process in each of a few client pods), the forwarder's resident memory read
 * after a warm-up and after every round, with and without the V8 heap limits the image and the
 * chart set (FORWARDER_NODE_OPTIONS), side by side in one run. Also checks that nothing is left:
 * links in every namespace, and the forwarder's open file descriptors.
 *
 * Root only. Usage: npm run bench:churn [-- CYCLES]   (default 1000 connect/close cycles)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FORWARDER_NODE_OPTIONS } from '../forwarder/node-options.ts';

const NSM = resolve(import.meta.dirname, '../bin/nsm.ts');
const LOAD = resolve(import.meta.dirname, 'connect-load.ts');
const PODS = 4;
const BATCH = 100;
const WARMUP_CYCLES = 300;
const prefix = `bh${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
const procs: ChildProcess[] = [];
const made: string[] = [];

const ip = (args: string[]) => spawnSync('ip', args, { encoding: 'utf8', timeout: 60_000 });
const netns = (name: string) => {
  ip(['netns', 'add', name]);
  made.push(name);
  return name;
};
const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
const fds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
const linksIn = (ns: string) => (JSON.parse(ip(['-n', ns, '-j', 'link', 'show']).stdout || '[]') as Array<{ ifname: string }>).filter((l) => l.ifname !== 'lo').length;

function start(ns: string, args: string[], env: Record<string, string>, stdio: 'ignore' | 'pipe' = 'ignore'): ChildProcess {
  const c = spawn('ip', ['netns', 'exec', ns, process.execPath, ...args], { env: { ...process.env, NSM_LOG_LEVEL: 'error', ...env }, stdio: [stdio === 'pipe' ? 'pipe' : 'ignore', stdio, 'inherit'] });
  procs.push(c);
  return c;
}

function loadProcess(ns: string, i: number, address: string) {
  const child = start(ns, [LOAD, address, String(i)], {}, 'pipe');
  let buffered = '';
  const waiting: Array<() => void> = [];
  child.stdout!.on('data', (b: Buffer) => {
    buffered += b.toString();
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      buffered = buffered.slice(nl + 1);
      waiting.shift()?.();
    }
  });
  const next = () => new Promise<void>((r) => waiting.push(r));
  const ready = next();
  return { ready, send: (cmd: object) => { const a = next(); child.stdin!.write(`${JSON.stringify(cmd)}\n`); return a; } };
}

async function run(label: string, nodeOptions: string, cycles: number) {
  const tag = `${label[0]}${made.length}`;
  const node = netns(`${prefix}-${tag}-node`);
  const ep = netns(`${prefix}-${tag}-ep`);
  const pods = Array.from({ length: PODS }, (_, i) => netns(`${prefix}-${tag}-c${i}`));
  const sock = join(dir, `${tag}.sock`);
  const fwd = start(node, [NSM, 'forwarder'], { NODE_OPTIONS: nodeOptions, NSM_NAME: `${prefix}-${tag}`, NSM_LISTEN_ON: `unix://${sock}`, NSM_PEER_LISTEN_ON: '', NSM_REGISTRY_DIR: join(dir, `reg-${tag}`), NSM_MEMIF_DIR: join(dir, 'memif') });
  for (let i = 0; i < 200; i++) { try { if (statSync(sock).isSocket()) break; } catch { /* not yet */ } await sleep(50); }
  start(ep, [NSM, 'nse'], { NSM_NAME: `ep-${tag}`, NSM_SERVICE_NAMES: 'bench', NSM_CIDR_PREFIX: '10.92.0.0/16', NSM_CONNECT_TO: `unix://${sock}`, NSM_LISTEN_ON: `unix://${join(dir, `ep-${tag}.sock`)}` });
  await sleep(1500);
  const loads = pods.map((ns, i) => loadProcess(ns, i, `unix://${sock}`));
  await Promise.all(loads.map((l) => l.ready));
  const round = async (n: number) => {
    for (let done = 0; done < n; done += BATCH * PODS) {
      await Promise.all(loads.map((l) => l.send({ op: 'setup', tag: 'c', count: BATCH, concurrency: 8 })));
      await Promise.all(loads.map((l) => l.send({ op: 'close', concurrency: 8 })));
    }
  };
  await round(WARMUP_CYCLES);
  await sleep(1000);
  const rss0 = rssMiB(fwd.pid!);
  const fd0 = fds(fwd.pid!);
  const samples: number[] = [];
  for (let done = 0; done < cycles; done += BATCH * PODS) {
    await round(BATCH * PODS);
    samples.push(rssMiB(fwd.pid!));
  }
  await sleep(2000);
  const rss1 = rssMiB(fwd.pid!);
  const left = [node, ep, ...pods].reduce((n, ns) => n + linksIn(ns), 0);
  const result = { label, nodeOptions: nodeOptions || '(none)', rss0, rss1, growth: rss1 - rss0, peak: Math.max(...samples), fdGrowth: fds(fwd.pid!) - fd0, linksLeft: left };
  for (const l of loads) void l.send({ op: 'exit' });
  for (const p of procs.splice(0)) p.kill('SIGTERM');
  await sleep(500);
  return result;
}

if (process.getuid?.() !== 0) {
  process.stderr.write('bench:churn creates network namespaces: run it as root\n');
  process.exit(1);
}
const cycles = Number(process.argv[2] ?? 1000);
try {
  const rows = [];
  for (const [label, options] of [['default V8 heap', ''], ['image and chart limits', FORWARDER_NODE_OPTIONS]]) rows.push(await run(label, options, cycles));
  process.stdout.write([
    `${cycles} connect/close cycles after ${WARMUP_CYCLES} warm-up cycles, ${PODS} client pods, ${BATCH} connections each at a time`, '',
    '| forwarder node options | RSS after warm-up MiB | RSS after MiB | growth MiB | peak MiB | fd growth | links left |',
    '|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.label}: \`${r.nodeOptions}\` | ${r.rss0.toFixed(1)} | ${r.rss1.toFixed(1)} | **${r.growth.toFixed(1)}** | ${r.peak.toFixed(1)} | ${r.fdGrowth} | ${r.linksLeft} |`),
    '', `target: growth < 30 MiB with the limits: ${rows[1].growth < 30 ? 'met' : 'NOT met'}`, '',
  ].join('\n'));
} finally {
  for (const p of procs) p.kill('SIGKILL');
  for (const n of made) spawnSync('ip', ['netns', 'del', n]);
  rmSync(dir, { recursive: true, force: true });
}
