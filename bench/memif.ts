/**
 * Packet rate between two testpmd instances (64-byte frames, one polling core each) over the memif
 * socket the mesh negotiated, against the same two instances on the endpoint's socket given by
 * hand; and the forwarder's CPU time meanwhile. Runs alternate; rates on this kind of VM are
 * bimodal, so each path runs several times and the median counts.
 * Root only, needs dpdk-testpmd. Usage: npm run bench:memif [-- <runs per path> <seconds per run>]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '../proto/api.ts';
import { NetworkServiceClient } from '../sdk/grpc/networkservice-client.ts';
import { startTestpmd, whyNoTestpmd, type Testpmd } from '../test/fixtures/testpmd.ts';

const NSM = resolve(import.meta.dirname, '../bin/nsm.ts');
const [RUNS, SECONDS] = [Number(process.argv[2] ?? 3) || 3, Number(process.argv[3] ?? 5) || 5];
const prefix = `bm${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
const made: string[] = [];
const procs: ChildProcess[] = [];
const pmds: Testpmd[] = [];

function netns(name: string): string {
  const r = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip netns add ${name}: ${r.stderr}`);
  made.push(name);
  return name;
}

function nsm(ns: string, args: string[], env: Record<string, string>): ChildProcess {
  const c = spawn('ip', ['netns', 'exec', ns, process.execPath, NSM, ...args], { env: { ...process.env, NSM_LOG_LEVEL: 'error', ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  procs.push(c);
  return c;
}

async function until(what: string, probe: () => boolean, limitMs = 15_000): Promise<void> {
  for (const end = Date.now() + limitMs; !probe(); await sleep(50)) if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
}

const isSocket = (p: string) => { try { return statSync(p).isSocket(); } catch { return false; } };
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;
const cpuSeconds = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK; // utime + stime
};
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };

/** The server's one-second receive rates while the client sent, without the partial first and last seconds. */
function rate(serverOutput: string): number {
  const samples = [...serverOutput.matchAll(/Rx-pps:\s+(\d+)/g)].map((m) => Number(m[1])).filter((x) => x > 0);
  const whole = samples.length > 2 ? samples.slice(1, -1) : samples;
  return whole.length ? median(whole) : 0;
}

interface Pods { ep: string; cl: string; appSocket: string; forwarderPid: number }
interface Handed { socket: string; id: number; release?: () => Promise<void> }

/**
 * One run on a fresh endpoint application (DPDK 22.11's memif server does not survive a second
 * client reconnecting): start it, get the client's socket and id, send for SECONDS, read the rate.
 */
async function run(p: Pods, tag: string, connect: () => Promise<Handed> | Handed) {
  rmSync(p.appSocket, { force: true });
  const server = startTestpmd({ netns: p.ep, role: 'server', socket: p.appSocket, id: 0, prefix: `${prefix}s${tag}`, seconds: SECONDS + 30 });
  pmds.push(server);
  await until('the endpoint application', () => isSocket(p.appSocket));
  const { socket, id, release } = await connect();
  const cpu0 = cpuSeconds(p.forwarderPid);
  const client = startTestpmd({ netns: p.cl, role: 'client', socket, id, prefix: `${prefix}c${tag}`, seconds: SECONDS + 15 });
  pmds.push(client);
  await sleep(SECONDS * 1000);
  await client.stop();
  const cpu = cpuSeconds(p.forwarderPid) - cpu0;
  await server.stop();
  await release?.();
  return { pps: rate(server.output()), cpu };
}

/** A new connection through the mesh (nsc init), as a pod starting now would get it; closed after the run. */
function negotiate(p: Pods, sock: string, name: string): Handed {
  const init = spawnSync('ip', ['netns', 'exec', p.cl, process.execPath, NSM, 'nsc', 'init'], {
    env: { ...process.env, NSM_LOG_LEVEL: 'error', NSM_NAME: name, NSM_NETWORK_SERVICES: 'memif://bench/mem-1', NSM_CONNECT_TO: `unix://${sock}`, NSM_CONNECTIONS_DIR: join(dir, name), NSM_INIT_TIMEOUT: '15s' },
    encoding: 'utf8', timeout: 30_000,
  });
  if (init.status !== 0) throw new Error(`nsc init failed: ${init.stderr}`);
  const conn = Connection.fromJSON(JSON.parse(readFileSync(join(dir, name, 'mem-1.json'), 'utf8')));
  const release = async () => {
    const client = await NetworkServiceClient.dial(`unix://${sock}`);
    await client.close(conn, { timeoutMs: 10_000 });
    client.shutdown();
  };
  return { socket: conn.mechanism!.parameters.socketfile, id: Number(conn.mechanism!.parameters.id), release };
}

if (process.getuid?.() !== 0) {
  process.stderr.write('bench:memif creates network namespaces: run it as root (sudo npm run bench:memif)\n');
  process.exit(1);
}
const missing = whyNoTestpmd();
if (missing) {
  process.stderr.write(`bench:memif: ${missing}\n`);
  process.exit(1);
}

const results = { negotiated: [] as Array<{ pps: number; cpu: number }>, hand: [] as Array<{ pps: number; cpu: number }> };
try {
  const [node, ep, cl] = ['node', 'ep', 'cl'].map((n) => netns(`${prefix}-${n}`));
  const sock = join(dir, 'nsm.sock');
  const forwarder = nsm(node, ['forwarder'], { NSM_NAME: 'fwd', NSM_LISTEN_ON: `unix://${sock}`, NSM_PEER_LISTEN_ON: '', NSM_REGISTRY_DIR: join(dir, 'registry'), NSM_MEMIF_DIR: join(dir, 'memif') });
  await until('the forwarder', () => isSocket(sock));
  const appSocket = join(dir, 'app/memif.sock');
  mkdirSync(join(dir, 'app'), { mode: 0o700 });
  nsm(ep, ['nse'], { NSM_NAME: 'app', NSM_SERVICE_NAMES: 'bench', NSM_CONNECT_TO: `unix://${sock}`, NSM_LISTEN_ON: `unix://${join(dir, 'nse.sock')}`, NSM_MEMIF_SOCKET: appSocket });
  await until('the endpoint registration', () => existsSync(join(dir, 'registry/networkserviceendpoints/app.json')));
  const pods: Pods = { ep, cl, appSocket, forwarderPid: forwarder.pid! };
  for (let i = 0; i < RUNS; i++) {
    results.negotiated.push(await run(pods, `n${i}`, () => negotiate(pods, sock, `cl${i}`)));
    results.hand.push(await run(pods, `h${i}`, () => ({ socket: appSocket, id: 0 })));
    process.stderr.write(`round ${i + 1}/${RUNS} done\n`);
  }
} finally {
  for (const p of pmds) await p.stop(2000);
  for (const p of procs) p.kill('SIGTERM');
  await sleep(500);
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  for (const n of made) spawnSync('ip', ['netns', 'del', n]);
  rmSync(dir, { recursive: true, force: true });
}

const mpps = (x: number) => (x / 1e6).toFixed(1);
const row = (name: string, rs: Array<{ pps: number; cpu: number }>) =>
  `| ${name} | ${rs.map((r) => mpps(r.pps)).join(' / ')} | ${mpps(median(rs.map((r) => r.pps)))} | ${rs.reduce((s, r) => s + r.cpu, 0).toFixed(2)} |`;
const ratio = median(results.negotiated.map((r) => r.pps)) / median(results.hand.map((r) => r.pps));
process.stdout.write([
  `64-byte frames, testpmd txonly → rxonly, ${RUNS} alternating runs of ${SECONDS} s per path`,
  '',
  '| path | Mpps per run | median Mpps | forwarder CPU s (all runs) |',
  '|---|---|---|---|',
  row('negotiated (socket handed out by nsm)', results.negotiated),
  row('by hand (endpoint socket, id 0)', results.hand),
  '',
  `ratio negotiated / by hand: ${ratio.toFixed(2)}`,
  '',
].join('\n'));
