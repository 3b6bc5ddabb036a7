/**
 * Same-node kernel connection setup through the real gRPC path (client → forwarder → endpoint),
 * against the raw kernel operations for the same interfaces done in one `ip -batch` per namespace
 * (veth pair created straight into the two namespaces, alias/group/up, address, route; the best
 * a dataplane could do). The raw baseline runs 3 times per size and its median counts.
 *
 * Each size starts a fresh forwarder and endpoint, sets up and closes WARMUP connections (so the
 * request path is compiled, as in a forwarder that has been running), then measures.
 *
 * CPU columns are milliseconds per connection during setup: the forwarder with its `ip`
 * processes, the endpoint, and the load generator, which shares the 2 cores with them. The load
 * generator is a lean gRPC client (bench/grpc-load.ts); `--grpc-js` uses the product's client.
 *
 * Root only. Usage: npm run bench:connect [-- [--grpc-js] 100 500 1000]
 * BENCH_CPU_PROF=<dir> writes .cpuprofile files of the forwarder and the endpoint there.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection, kernelMechanism, NetworkServiceDefinition, type NetworkServiceRequest } from '../proto/api.ts';
import { NetworkServiceClient } from '../sdk/grpc/networkservice-client.ts';
import { formatInodeUrl } from '../sdk/netns.ts';
import { LeanGrpcClient } from './grpc-load.ts';

const NSM = resolve(import.meta.dirname, '../bin/nsm.ts');
const CLIENT_PODS = 10;
const CONCURRENCY = 64;
const WARMUP = 200;
const RAW_RUNS = 3;
const TARGET_RATIO = 0.5;
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

function dropNetns(names: string[]): void {
  for (const n of names) {
    spawnSync('ip', ['netns', 'del', n]);
    made.splice(made.indexOf(n), 1);
  }
}

function inodeUrl(name: string): string {
  const s = statSync(`/run/netns/${name}`);
  return formatInodeUrl({ dev: s.dev, ino: s.ino });
}

function start(ns: string, args: string[], env: Record<string, string>): ChildProcess {
  const prof = process.env.BENCH_CPU_PROF ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${join(process.env.BENCH_CPU_PROF, args[0])}` } : {};
  const c = spawn('ip', ['netns', 'exec', ns, process.execPath, NSM, ...args], { env: { ...process.env, NSM_LOG_LEVEL: 'error', ...prof, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  procs.push(c);
  return c;
}

const statOf = (pid: number | string) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
/** CPU seconds (user + system) of a process and of all its children, ended or running. */
function cpuS(pid: number): number {
  const ticks = (f: string[], from: number, to: number) => f.slice(from - 3, to - 2).reduce((a, x) => a + Number(x), 0) / 100;
  let total = ticks(statOf(pid), 14, 17);
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const f = statOf(d);
      if (Number(f[1]) === pid) total += ticks(f, 14, 15);
    } catch { /* gone */ }
  }
  return total;
}

const rssKb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const median = (xs: number[]) => pct(xs, 0.5);

async function pool<T>(items: T[], width: number, f: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (i < items.length) await f(items[i++]);
  }));
}

interface LoadClient {
  request(req: NetworkServiceRequest): Promise<Connection>;
  close(conn: Connection): Promise<void>;
  shutdown(): void;
}

async function loadClient(address: string, grpcJs: boolean): Promise<LoadClient> {
  if (grpcJs) {
    const c = await NetworkServiceClient.dial(address);
    return { request: (r) => c.request(r, { timeoutMs: 60_000 }), close: (x) => c.close(x, { timeoutMs: 60_000 }), shutdown: () => c.shutdown() };
  }
  const c = await LeanGrpcClient.connect(address);
  const m = NetworkServiceDefinition.methods;
  return {
    request: (r) => c.unary(NetworkServiceDefinition, m.request, r, 60_000),
    close: async (x) => void await c.unary(NetworkServiceDefinition, m.close, x, 60_000),
    shutdown: () => c.close(),
  };
}

async function mesh(n: number, round: number, grpcJs: boolean) {
  const node = netns(`${prefix}-${round}-node`);
  const ep = netns(`${prefix}-${round}-ep`);
  const pods = Array.from({ length: CLIENT_PODS }, (_, i) => netns(`${prefix}-${round}-c${i}`));
  const sock = join(dir, `fwd${round}.sock`);
  const fwd = start(node, ['forwarder'], { NSM_NAME: 'fwd', NSM_LISTEN_ON: `unix://${sock}`, NSM_PEER_LISTEN_ON: '', NSM_MEMIF_DIR: join(dir, 'memif'), NSM_REGISTRY_DIR: join(dir, `reg${round}`) });
  for (let i = 0; i < 100; i++) { try { if (statSync(sock).isSocket()) break; } catch { /* not yet */ } await sleep(50); }
  const nse = start(ep, ['nse'], { NSM_NAME: 'ep', NSM_SERVICE_NAMES: 'bench', NSM_CIDR_PREFIX: '10.90.0.0/16', NSM_CONNECT_TO: `unix://${sock}`, NSM_LISTEN_ON: `unix://${join(dir, `ep${round}.sock`)}` });
  await sleep(1500);
  const client = await loadClient(`unix://${sock}`, grpcJs);
  const urls = pods.map(inodeUrl);
  const request = (i: number, tag: string) => {
    const pod = i % CLIENT_PODS;
    const id = `${tag}-${i}`;
    return client.request({
      connection: Connection.fromPartial({ id, networkService: 'bench', path: { index: 0, pathSegments: [{ name: `pod${pod}`, id }] } }),
      mechanismPreferences: [kernelMechanism({ name: `ns${tag}-${Math.floor(i / CLIENT_PODS)}`, inodeURL: urls[pod] })],
    });
  };
  // A running forwarder has long since compiled its request path: warm up, then measure.
  const warm: Connection[] = [];
  const w0 = performance.now();
  await pool(Array.from({ length: WARMUP }, (_, i) => i), CONCURRENCY, async (i) => void warm.push(await request(i, 'w')));
  const coldRate = WARMUP / ((performance.now() - w0) / 1000);
  await pool(warm, CONCURRENCY, async (c) => client.close(c));
  await sleep(500);
  const rssBefore = rssKb(fwd.pid!);
  const latencies: number[] = [];
  const conns: Connection[] = [];
  const ids = Array.from({ length: n }, (_, i) => i);
  const cpu0 = { fwd: cpuS(fwd.pid!), nse: cpuS(nse.pid!), me: process.cpuUsage() };
  const t0 = performance.now();
  await pool(ids, CONCURRENCY, async (i) => {
    const s = performance.now();
    conns.push(await request(i, 'b'));
    latencies.push(performance.now() - s);
  });
  const setupS = (performance.now() - t0) / 1000;
  const me = process.cpuUsage(cpu0.me);
  const cpuMs = { fwd: (cpuS(fwd.pid!) - cpu0.fwd) * 1000 / n, nse: (cpuS(nse.pid!) - cpu0.nse) * 1000 / n, client: (me.user + me.system) / 1000 / n };
  await sleep(200);
  const rssAfter = rssKb(fwd.pid!);
  const c0 = performance.now();
  await pool(conns, CONCURRENCY, async (c) => client.close(c));
  const closeS = (performance.now() - c0) / 1000;
  client.shutdown();
  for (const p of procs.splice(0)) p.kill('SIGTERM');
  await sleep(300);
  dropNetns([node, ep, ...pods]);
  return { coldRate, rate: n / setupS, p50: pct(latencies, 0.5), p99: pct(latencies, 0.99), memKbPerConn: (rssAfter - rssBefore) / n, closeRate: n / closeS, cpuMs };
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
  const deleteRate = n / ((performance.now() - d0) / 1000);
  dropNetns([ep, ...pods]);
  return { rate: n / setupS, deleteRate };
}

if (process.getuid?.() !== 0) {
  process.stderr.write('bench:connect creates network namespaces: run it as root (sudo npm run bench:connect)\n');
  process.exit(1);
}
const args = process.argv.slice(2);
const grpcJs = args.includes('--grpc-js');
const sizes = args.map(Number).filter((x) => x > 0);
const rows: string[] = [];
const ratios: number[] = [];
try {
  let round = 0;
  for (const n of sizes.length ? sizes : [100, 500, 1000]) {
    round++;
    const m = await mesh(n, round, grpcJs);
    const r = Array.from({ length: RAW_RUNS }, (_, i) => raw(n, round * 10 + i));
    const rawRate = median(r.map((x) => x.rate));
    const rawDelete = median(r.map((x) => x.deleteRate));
    ratios.push(m.rate / rawRate);
    rows.push(`| ${n} | ${m.coldRate.toFixed(0)} | ${m.rate.toFixed(0)} | ${m.p50.toFixed(1)} | ${m.p99.toFixed(1)} | ${rawRate.toFixed(0)} | **${(m.rate / rawRate).toFixed(2)}** | ${m.cpuMs.fwd.toFixed(2)} / ${m.cpuMs.nse.toFixed(2)} / ${m.cpuMs.client.toFixed(2)} | ${m.memKbPerConn.toFixed(1)} | ${m.closeRate.toFixed(0)} | ${rawDelete.toFixed(0)} |`);
    process.stderr.write(`N=${n} done\n`);
  }
} finally {
  for (const p of procs) p.kill('SIGKILL');
  for (const n of [...made]) spawnSync('ip', ['netns', 'del', n]);
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write([
  `load generator: ${grpcJs ? '@grpc/grpc-js' : 'lean http2 gRPC client'}, ${CONCURRENCY} requests in flight, ${CLIENT_PODS} client pods, 1 endpoint; ${WARMUP} connections set up and closed before each measured run`,
  '',
  '| N | cold conn/s (first ' + WARMUP + ') | nsm conn/s | p50 ms | p99 ms | raw batch conn/s (median of 3) | ratio | CPU ms/conn fwd+ip / nse / client | forwarder KiB/conn | nsm close/s | raw delete/s |',
  '|---|---|---|---|---|---|---|---|---|---|---|',
  ...rows,
  '',
  `ratio = nsm conn/s / raw batch conn/s; target >= ${TARGET_RATIO} (DESIGN.md section 8): ${ratios.every((x) => x >= TARGET_RATIO) ? 'met' : 'NOT met'} (min ${Math.min(...ratios).toFixed(2)})`,
  '',
].join('\n'));
