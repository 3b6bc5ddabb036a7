/**
 * Same-node kernel connection setup through the real gRPC path (client → forwarder → endpoint),
 * against the raw kernel operations for the same interfaces done in one `ip -batch` per namespace
 * (veth pair created straight into the two namespaces, alias/group/up, address, route; the best
 * a dataplane could do). Each size runs ROUNDS rounds of nsm then raw, back to back, and the
 * round with the median ratio is reported.
 *
 * Each nsm run starts a fresh forwarder and endpoint, sets up and closes WARMUP connections (so
 * the request path is compiled, as in a forwarder that has been running), then measures.
 *
 * CPU columns are milliseconds per connection during setup: the forwarder itself (its netlink
 * thread included), its `ip` processes (none for veth connections unless netlink is unavailable),
 * the endpoint, and the load generator, which shares the 2 cores with them; then the
 * whole machine's busy share (kernel threads included). The load comes from one process in each
 * client pod (bench/connect-load.ts: the forwarder lets a pod ask only for its own namespace), each
 * with a lean gRPC client (bench/grpc-load.ts); `--grpc-js` uses the product's client.
 *
 * Root only. Usage: npm run bench:connect [-- [--grpc-js] [--otlp] 100 500 1000]
 * --otlp: the forwarder and the endpoint export traces (OTEL_EXPORTER_OTLP_ENDPOINT) to a receiver
 * in their own namespace that discards them (bench/otlp-sink.ts); without it tracing is off.
 * BENCH_CPU_PROF=<dir> writes .cpuprofile files of the forwarder and the endpoint there;
 * BENCH_NODE_FLAGS='--flag ...' starts both with those node flags.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const NSM = resolve(import.meta.dirname, '../bin/nsm.ts');
const LOAD = resolve(import.meta.dirname, 'connect-load.ts');
const OTLP_SINK = resolve(import.meta.dirname, 'otlp-sink.ts');
const OTLP_PORT = 4318;
const CLIENT_PODS = 10;
const CONCURRENCY = 64;
const WARMUP = 200;
const ROUNDS = 3;
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

/** BENCH_NODE_FLAGS: node flags for the forwarder and endpoint, e.g. `--single-threaded-gc`. */
const nodeFlags = process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? [];

function start(ns: string, args: string[], env: Record<string, string>): ChildProcess {
  const prof = process.env.BENCH_CPU_PROF ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${join(process.env.BENCH_CPU_PROF, args[0])}` } : {};
  const c = spawn('ip', ['netns', 'exec', ns, process.execPath, ...nodeFlags, NSM, ...args], { env: { ...process.env, NSM_LOG_LEVEL: 'error', ...prof, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  procs.push(c);
  return c;
}

const statOf = (pid: number | string) => {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(') ') + 2).split(' ');
};
const ticks = (f: string[], from: number, to: number) => f.slice(from - 3, to - 2).reduce((a, x) => a + Number(x), 0) / 100;
/** CPU seconds (user + system) of a process itself and of all its children, ended or running. */
function cpuS(pid: number): { own: number; children: number } {
  const f = statOf(pid);
  let children = ticks(f, 16, 17);
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const c = statOf(d);
      if (Number(c[1]) === pid) children += ticks(c, 14, 15);
    } catch { /* gone */ }
  }
  return { own: ticks(f, 14, 15), children };
}
/**
 * Machine-wide CPU ticks from /proc/stat: busy (user, nice, system, irq, softirq) and total (those
 * plus idle, iowait and steal; guest time is already inside user and nice).
 */
function machineTicks(): { busy: number; total: number } {
  const [user, nice, system, idle, iowait, irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const busy = user + nice + system + irq + softirq;
  return { busy, total: busy + idle + iowait + steal };
}
const busyShare = (from: { busy: number; total: number }) => {
  const to = machineTicks();
  return (to.busy - from.busy) / Math.max(1, to.total - from.total);
};
/** CPU seconds of this process's ended children. */
const endedChildrenS = () => ticks(statOf('self'), 16, 17);

const rssKb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

/** One client pod's load process (bench/connect-load.ts), driven line by line. */
interface PodLoad {
  pid: number;
  send(cmd: object): Promise<Record<string, unknown>>;
}

async function podLoad(ns: string, index: number, address: string, grpcJs: boolean): Promise<PodLoad> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, LOAD, address, String(index), ...(grpcJs ? ['--grpc-js'] : [])], { stdio: ['pipe', 'pipe', 'inherit'] });
  procs.push(child);
  const waiting: Array<(o: Record<string, unknown>) => void> = [];
  let buffered = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buffered += chunk;
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      waiting.shift()?.(JSON.parse(line) as Record<string, unknown>);
    }
  });
  const next = () => new Promise<Record<string, unknown>>((resolve, reject) => {
    waiting.push(resolve);
    child.once('exit', (code) => reject(new Error(`the load process of ${ns} exited (${code})`)));
  });
  await next();
  return {
    pid: child.pid!,
    send: (cmd) => {
      const answer = next();
      child.stdin.write(`${JSON.stringify(cmd)}\n`);
      return answer;
    },
  };
}

/** --otlp: a receiver in `ns` that discards what it is sent; the environment that points a process at it. */
async function otlpSink(ns: string, label: string): Promise<Record<string, string>> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, OTLP_SINK, String(OTLP_PORT), label], { stdio: ['ignore', 'pipe', 'inherit'] });
  procs.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`the OTLP receiver in ${ns} exited (${code})`)));
  });
  return { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${OTLP_PORT}`, OTEL_SERVICE_NAME: label };
}

/** `total` split over `parts` as evenly as whole numbers allow. */
const share = (total: number, parts: number) => Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));

async function mesh(n: number, round: number, grpcJs: boolean, otlp: boolean) {
  const node = netns(`${prefix}-${round}-node`);
  const ep = netns(`${prefix}-${round}-ep`);
  const pods = Array.from({ length: CLIENT_PODS }, (_, i) => netns(`${prefix}-${round}-c${i}`));
  for (const ns of otlp ? [node, ep] : []) ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  const traced = otlp ? { fwd: await otlpSink(node, `forwarder round ${round}`), nse: await otlpSink(ep, `endpoint round ${round}`) } : { fwd: {}, nse: {} };
  const sock = join(dir, `fwd${round}.sock`);
  const fwd = start(node, ['forwarder'], { NSM_NAME: `${prefix}-fwd`, NSM_LISTEN_ON: `unix://${sock}`, NSM_PEER_LISTEN_ON: '', NSM_MEMIF_DIR: join(dir, 'memif'), NSM_REGISTRY_DIR: join(dir, `reg${round}`), ...traced.fwd });
  for (let i = 0; i < 100; i++) { try { if (statSync(sock).isSocket()) break; } catch { /* not yet */ } await sleep(50); }
  const nse = start(ep, ['nse'], { NSM_NAME: 'ep', NSM_SERVICE_NAMES: 'bench', NSM_CIDR_PREFIX: '10.90.0.0/16', NSM_CONNECT_TO: `unix://${sock}`, NSM_LISTEN_ON: `unix://${join(dir, `ep${round}.sock`)}`, ...traced.nse });
  await sleep(1500);
  const loads = await Promise.all(pods.map((ns, i) => podLoad(ns, i, `unix://${sock}`, grpcJs)));
  const widths = share(CONCURRENCY, CLIENT_PODS);
  const setup = async (tag: string, total: number) => {
    const answers = await Promise.all(loads.map((l, i) => l.send({ op: 'setup', tag, count: share(total, CLIENT_PODS)[i], concurrency: widths[i] })));
    return answers.flatMap((a) => a.latencies as number[]);
  };
  const closeAll = () => Promise.all(loads.map((l, i) => l.send({ op: 'close', concurrency: widths[i] })));
  // A running forwarder has long since compiled its request path: warm up, then measure.
  const w0 = performance.now();
  await setup('w', WARMUP);
  const coldRate = WARMUP / ((performance.now() - w0) / 1000);
  await closeAll();
  await sleep(500);
  const rssBefore = rssKb(fwd.pid!);
  const clientCpu = () => loads.reduce((a, l) => a + cpuS(l.pid).own, 0);
  const cpu0 = { fwd: cpuS(fwd.pid!), nse: cpuS(nse.pid!), client: clientCpu(), machine: machineTicks() };
  const t0 = performance.now();
  const latencies = await setup('b', n);
  const setupS = (performance.now() - t0) / 1000;
  const busy = busyShare(cpu0.machine);
  const [fwd1, nse1, client1] = [cpuS(fwd.pid!), cpuS(nse.pid!), clientCpu()];
  const perConn = (s: number) => s * 1000 / n;
  const cpuMs = { fwd: perConn(fwd1.own - cpu0.fwd.own), ip: perConn(fwd1.children - cpu0.fwd.children), nse: perConn(nse1.own + nse1.children - cpu0.nse.own - cpu0.nse.children), client: perConn(client1 - cpu0.client) };
  await sleep(200);
  const rssAfter = rssKb(fwd.pid!);
  const c0 = performance.now();
  await closeAll();
  const closeS = (performance.now() - c0) / 1000;
  for (const l of loads) void l.send({ op: 'exit' }).catch(() => {});
  for (const p of procs.splice(0)) p.kill('SIGTERM');
  await sleep(300);
  dropNetns([node, ep, ...pods]);
  return { coldRate, rate: n / setupS, p50: pct(latencies, 0.5), p99: pct(latencies, 0.99), memKbPerConn: (rssAfter - rssBefore) / n, closeRate: n / closeS, cpuMs, busy };
}

function raw(n: number, round: number) {
  const ep = netns(`${prefix}-${round}-rep`);
  const pods = Array.from({ length: CLIENT_PODS }, (_, i) => netns(`${prefix}-${round}-r${i}`));
  const cpu0 = endedChildrenS();
  const machine0 = machineTicks();
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
  const cpuMs = (endedChildrenS() - cpu0) * 1000 / n;
  const busy = busyShare(machine0);
  const d0 = performance.now();
  ip(['-n', ep, 'link', 'del', 'group', '7780']);
  const deleteRate = n / ((performance.now() - d0) / 1000);
  dropNetns([ep, ...pods]);
  return { rate: n / setupS, deleteRate, cpuMs, busy };
}

if (process.getuid?.() !== 0) {
  process.stderr.write('bench:connect creates network namespaces: run it as root (sudo npm run bench:connect)\n');
  process.exit(1);
}
const args = process.argv.slice(2);
const grpcJs = args.includes('--grpc-js');
const otlp = args.includes('--otlp');
const sizes = args.map(Number).filter((x) => x > 0);
const rows: string[] = [];
const ratios: number[] = [];
type Mesh = Awaited<ReturnType<typeof mesh>>;
type Raw = ReturnType<typeof raw>;
const row = (n: number, m: Mesh, r: Raw, range: string) => `| ${n} | ${m.coldRate.toFixed(0)} | ${m.rate.toFixed(0)} | ${m.p50.toFixed(1)} | ${m.p99.toFixed(1)} | ${r.rate.toFixed(0)} | **${(m.rate / r.rate).toFixed(2)}** | ${range} | ${m.cpuMs.fwd.toFixed(2)} / ${m.cpuMs.ip.toFixed(2)} / ${m.cpuMs.nse.toFixed(2)} / ${m.cpuMs.client.toFixed(2)} | ${(m.busy * 100).toFixed(0)} % | ${r.cpuMs.toFixed(2)} | ${(r.busy * 100).toFixed(0)} % | ${m.memKbPerConn.toFixed(1)} | ${m.closeRate.toFixed(0)} | ${r.deleteRate.toFixed(0)} |`;
try {
  let round = 0;
  for (const n of sizes.length ? sizes : [100, 500, 1000]) {
    // The machine's speed drifts by more than the effect measured: each round measures nsm and
    // the raw baseline back to back, and the round with the median ratio is reported whole.
    const results: { m: Mesh; r: Raw; ratio: number }[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      round++;
      const m = await mesh(n, round, grpcJs, otlp);
      const r = raw(n, round);
      results.push({ m, r, ratio: m.rate / r.rate });
    }
    results.sort((a, b) => a.ratio - b.ratio);
    const mid = results[Math.floor(results.length / 2)];
    ratios.push(mid.ratio);
    rows.push(row(n, mid.m, mid.r, `${results[0].ratio.toFixed(2)}-${results[results.length - 1].ratio.toFixed(2)}`));
    process.stderr.write(`N=${n} done\n`);
  }
} finally {
  for (const p of procs) p.kill('SIGKILL');
  for (const n of [...made]) spawnSync('ip', ['netns', 'del', n]);
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write([
  `tracing: ${otlp ? `on (forwarder and endpoint export over OTLP/HTTP to a receiver on 127.0.0.1:${OTLP_PORT} of their namespace)` : 'off'}`,
  `load generator: one process in each of ${CLIENT_PODS} client pods (${grpcJs ? '@grpc/grpc-js' : 'lean http2 gRPC client'}), ${CONCURRENCY} requests in flight in all, 1 endpoint; ${WARMUP} connections set up and closed before each measured run; ${ROUNDS} rounds per size (nsm, then raw), the round with the median ratio shown`,
  '',
  `| N | cold conn/s (first ${WARMUP}) | nsm conn/s | p50 ms | p99 ms | raw batch conn/s | ratio | ratio over rounds | CPU ms/conn fwd / its ip / nse / client | machine busy | raw ip CPU ms/conn | raw machine busy | forwarder KiB/conn | nsm close/s | raw delete/s |`,
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ...rows,
  '',
  `ratio = nsm conn/s / raw batch conn/s; target >= ${TARGET_RATIO} (DESIGN.md section 8): ${ratios.every((x) => x >= TARGET_RATIO) ? 'met' : 'NOT met'} (lowest median ratio ${Math.min(...ratios).toFixed(3)})`,
  '',
].join('\n'));
