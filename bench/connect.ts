/**
 * Same-node kernel connection setup through the real gRPC path (client → forwarder → endpoint),
 * against the raw kernel operations for the same interfaces done in one `ip -batch` per namespace.
 * Root only. Usage: npm run bench:connect [-- 100 500 1000]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection, kernelMechanism } from '../proto/api.ts';
import { NetworkServiceClient } from '../sdk/grpc/networkservice-client.ts';
import { formatInodeUrl } from '../sdk/netns.ts';

const NSM = resolve(import.meta.dirname, '../bin/nsm.ts');
const CLIENT_PODS = 10;
const CONCURRENCY = 64;
const prefix = `bc${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
const made: string[] = [];
const procs: ChildProcess[] = [];

function ip(args: string[], input?: string): void {
  const r = spawnSync('ip', args, { input, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
}

function netns(name: string): string {
  ip(['netns', 'add', name]);
  made.push(name);
  return name;
}

function inodeUrl(name: string): string {
  const s = statSync(`/run/netns/${name}`);
  return formatInodeUrl({ dev: s.dev, ino: s.ino });
}

function start(ns: string, args: string[], env: Record<string, string>): ChildProcess {
  const c = spawn('ip', ['netns', 'exec', ns, process.execPath, NSM, ...args], { env: { ...process.env, NSM_LOG_LEVEL: 'error', ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  procs.push(c);
  return c;
}

const rssKb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

async function pool<T>(items: T[], width: number, f: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (i < items.length) await f(items[i++]);
  }));
}

async function mesh(n: number, round: number) {
  const node = netns(`${prefix}-${round}-node`);
  const ep = netns(`${prefix}-${round}-ep`);
  const pods = Array.from({ length: CLIENT_PODS }, (_, i) => netns(`${prefix}-${round}-c${i}`));
  const sock = join(dir, `fwd${round}.sock`);
  const fwd = start(node, ['forwarder'], { NSM_NAME: 'fwd', NSM_LISTEN_ON: `unix://${sock}`, NSM_REGISTRY_DIR: join(dir, `reg${round}`) });
  for (let i = 0; i < 100; i++) { try { if (statSync(sock).isSocket()) break; } catch { /* not yet */ } await sleep(50); }
  start(ep, ['nse'], { NSM_NAME: 'ep', NSM_SERVICE_NAMES: 'bench', NSM_CIDR_PREFIX: '10.90.0.0/16', NSM_CONNECT_TO: `unix://${sock}`, NSM_LISTEN_ON: `unix://${join(dir, `ep${round}.sock`)}` });
  await sleep(1500);
  const client = await NetworkServiceClient.dial(`unix://${sock}`);
  const urls = pods.map(inodeUrl);
  const rssBefore = rssKb(fwd.pid!);
  const latencies: number[] = [];
  const conns: Connection[] = [];
  const ids = Array.from({ length: n }, (_, i) => i);
  const t0 = performance.now();
  await pool(ids, CONCURRENCY, async (i) => {
    const s = performance.now();
    const pod = i % CLIENT_PODS;
    const id = `b-${i}`;
    conns.push(await client.request({
      connection: Connection.fromPartial({ id, networkService: 'bench', path: { index: 0, pathSegments: [{ name: `pod${pod}`, id }] } }),
      mechanismPreferences: [kernelMechanism({ name: `nsm-${Math.floor(i / CLIENT_PODS)}`, inodeURL: urls[pod] })],
    }, { timeoutMs: 60_000 }));
    latencies.push(performance.now() - s);
  });
  const setupS = (performance.now() - t0) / 1000;
  await sleep(200);
  const rssAfter = rssKb(fwd.pid!);
  const c0 = performance.now();
  await pool(conns, CONCURRENCY, async (c) => client.close(c, { timeoutMs: 60_000 }));
  const closeS = (performance.now() - c0) / 1000;
  client.shutdown();
  for (const p of procs.splice(0)) p.kill('SIGTERM');
  await sleep(300);
  return { rate: n / setupS, p50: pct(latencies, 0.5), p99: pct(latencies, 0.99), memKbPerConn: (rssAfter - rssBefore) / n, closeRate: n / closeS };
}

function raw(n: number, round: number) {
  const ep = netns(`${prefix}-${round}-rep`);
  const pods = Array.from({ length: CLIENT_PODS }, (_, i) => netns(`${prefix}-${round}-r${i}`));
  const t0 = performance.now();
  const add: string[] = [];
  const podCmds: string[][] = pods.map(() => []);
  const epCmds: string[] = [];
  for (let i = 0; i < n; i++) {
    const pod = i % CLIENT_PODS;
    const name = `nsm-${Math.floor(i / CLIENT_PODS)}`;
    const peer = `e${i}`;
    const a = `10.91.${i >> 7}.${(i & 127) * 2}`;
    const b = `10.91.${i >> 7}.${(i & 127) * 2 + 1}`;
    add.push(`link add ${name} netns /run/netns/${pods[pod]} type veth peer name ${peer} netns /run/netns/${ep}`);
    podCmds[pod].push(`link set dev ${name} alias nsm:b-${i} group 7780 up`, `address add ${a}/32 dev ${name}`, `route replace ${b}/32 dev ${name} scope link`);
    epCmds.push(`link set dev ${peer} alias nsm:b-${i} group 7780 up`, `address add ${b}/32 dev ${peer}`, `route replace ${a}/32 dev ${peer} scope link`);
  }
  ip(['-batch', '-'], `${add.join('\n')}\n`);
  pods.forEach((p, i) => ip(['-n', p, '-batch', '-'], `${podCmds[i].join('\n')}\n`));
  ip(['-n', ep, '-batch', '-'], `${epCmds.join('\n')}\n`);
  const setupS = (performance.now() - t0) / 1000;
  const d0 = performance.now();
  ip(['-n', ep, 'link', 'del', 'group', '7780']);
  return { rate: n / setupS, deleteRate: n / ((performance.now() - d0) / 1000) };
}

if (process.getuid?.() !== 0) {
  process.stderr.write('bench:connect creates network namespaces: run it as root (sudo npm run bench:connect)\n');
  process.exit(1);
}
const sizes = process.argv.slice(2).map(Number).filter((x) => x > 0);
const rows: string[] = [];
try {
  let round = 0;
  for (const n of sizes.length ? sizes : [100, 500, 1000]) {
    round++;
    const m = await mesh(n, round);
    const r = raw(n, round);
    rows.push(`| ${n} | ${m.rate.toFixed(0)} | ${m.p50.toFixed(1)} | ${m.p99.toFixed(1)} | ${r.rate.toFixed(0)} | ${(m.rate / r.rate).toFixed(2)} | ${m.memKbPerConn.toFixed(1)} | ${m.closeRate.toFixed(0)} | ${r.deleteRate.toFixed(0)} |`);
    process.stderr.write(`N=${n} done\n`);
  }
} finally {
  for (const p of procs) p.kill('SIGKILL');
  for (const n of made) spawnSync('ip', ['netns', 'del', n]);
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write([
  '| N | nsm conn/s | p50 ms | p99 ms | raw batch conn/s | ratio | forwarder KiB/conn | nsm close/s | raw delete/s |',
  '|---|---|---|---|---|---|---|---|---|',
  ...rows, '',
].join('\n'));
