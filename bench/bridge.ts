/**
 * Bridge domain benchmarks, in namespaces only (the sandbox):
 * 1. TCP throughput client to client across two nodes through the domain (veth, bridge, VXLAN,
 *    bridge, veth, all negotiated by nsm) beside the same path built by hand with `ip`: 3 runs
 *    each, alternating, medians and their ratio.
 * 2. The time a new bridge takes to join a domain of N = 2, 4, 8 bridges (from the start of its
 *    endpoint until its bridge has an isolated port up toward each of them) beside the time the same
 *    endpoint takes to start and register without a domain, in the same run: 3 joins each, medians.
 *   sudo npm run bench:bridge               (BENCH_SECONDS=4 per iperf run by default)
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { apply } from '../sandbox/apply.ts';
import { applyFiles, down, up } from '../sandbox/lifecycle.ts';
import { connections, table } from '../sandbox/report.ts';
import { loadState, NETNS_PREFIX, paths, saveState, stopProcs, type State } from '../sandbox/state.ts';
import { buildUnderlay, freeSubnet } from '../sandbox/topology.ts';
import { iperf, median } from './iperf.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const RUNS = 3;
const HAND = 'nsmbenchbr-';
const quiet = () => {};
const env = { PATH: process.env.PATH, HOME: process.env.HOME, NSM_LOG_LEVEL: 'warn' };

function ip(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
}

/** Two nodes on an underlay, a bridge pod on each joined by VXLAN, a client on each bridge: [server, client, server address]. */
function handBuilt(): [string, string, string] {
  const [n1, n2, b1, b2, c1, c2] = ['n1', 'n2', 'b1', 'b2', 'c1', 'c2'].map((x) => `${HAND}${x}`);
  for (const ns of [n1, n2, b1, b2, c1, c2]) ip(['netns', 'add', ns]);
  const [u1, u2] = buildUnderlay(`${HAND}ul`, [n1, n2], freeSubnet());
  for (const [node, bridge, client, local, remote, address] of [[n1, b1, c1, u1, u2, '10.239.9.1/24'], [n2, b2, c2, u2, u1, '10.239.9.2/24']] as const) {
    ip(['-n', node, 'link', 'add', 'vx', 'netns', bridge, 'type', 'vxlan', 'id', '4242', 'local', local.ip, 'remote', remote.ip, 'dstport', '4789', 'dev', local.ifname]);
    ip(['-n', bridge, 'link', 'add', 'br0', 'type', 'bridge']);
    ip(['-n', bridge, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', client]);
    for (const port of ['vx', 'v0']) ip(['-n', bridge, 'link', 'set', port, 'master', 'br0', 'mtu', '1450', 'up']);
    ip(['-n', bridge, 'link', 'set', 'br0', 'up']);
    ip(['-n', client, 'link', 'set', 'lo', 'up']);
    ip(['-n', client, 'addr', 'add', address, 'dev', 'eth0']);
    ip(['-n', client, 'link', 'set', 'eth0', 'mtu', '1450', 'up']);
  }
  return [c2, c1, '10.239.9.2'];
}

function removeHandBuilt(): void {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').map((l) => l.split(' ')[0]).filter((x) => x.startsWith(HAND));
  for (const ns of list) spawnSync('ip', ['netns', 'del', ns]);
}

async function throughput(): Promise<string[]> {
  await up('warn', quiet, 3);
  await applyFiles([resolve(import.meta.dirname, '../examples/bridge-domain')], 'warn', quiet);
  const rows = connections(loadState()!);
  const on = (node: string) => rows.find((r) => r.node === node && r.bridge !== '');
  const [server, client] = [on('node2'), on('node1')];
  if (!server || !client) throw new Error(`the bridge domain has no client on node1 and node2: ${JSON.stringify(rows)}`);
  const nsm: [string, string, string] = [server.netns, client.netns, server.address.split('/')[0]];
  const hand = handBuilt();
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    a.push(await iperf(...nsm, SECONDS));
    b.push(await iperf(...hand, SECONDS));
  }
  await down(quiet);
  return ['bridge, VXLAN, bridge across two nodes', a.map((x) => x.toFixed(2)).join(' '), median(a).toFixed(2), b.map((x) => x.toFixed(2)).join(' '), median(b).toFixed(2), (median(a) / median(b)).toFixed(2)];
}

/** A bridge endpoint pod on `node`, in domain `domain` (none: a bridge of its own). */
function bridgePod(name: string, node: string, pool: number, domain: string): Record<string, unknown> {
  const vars: Record<string, string> = {
    NSM_NAME: name, NSM_MODE: 'bridge', NSM_SERVICE_NAMES: 'bench-domain', NSM_CIDR_PREFIX: '10.62.0.0/16', NSM_IP_POOL: `10.62.${pool}.0/24`,
    NSM_PAYLOAD: 'ETHERNET', NSM_REGISTER_SERVICE: 'false', NSM_BRIDGE_DOMAIN: domain,
  };
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name },
    spec: { nodeName: node, containers: [{ name: 'nse', command: ['nsm', 'nse'], env: Object.entries(vars).map(([k, v]) => ({ name: k, value: v })) }] },
  };
}

const linksUp = (pod: string) => {
  const r = spawnSync('ip', ['-n', `${NETNS_PREFIX}${pod}`, '-j', '-d', 'link', 'show', 'master', 'nsm-br'], { encoding: 'utf8' });
  if (r.status !== 0) return 0;
  return (JSON.parse(r.stdout) as Array<{ flags?: string[]; linkinfo?: { info_slave_data?: { isolated?: boolean } } }>).filter((l) => l.linkinfo?.info_slave_data?.isolated && l.flags?.includes('LOWER_UP')).length;
};

const registered = (name: string) => join(paths.registry, 'networkserviceendpoints', `${name}.json`);

async function until(what: string, check: () => boolean, ms = 60_000): Promise<void> {
  for (const end = Date.now() + ms; !check();) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Starts one bridge pod and resolves with the time until `ready` holds. */
async function timed(state: State, pod: Record<string, unknown>, ready: () => boolean, what: string): Promise<number> {
  const started = performance.now();
  await apply(state, [pod], env, () => saveState(state), quiet);
  await until(what, ready);
  return performance.now() - started;
}

async function joins(n: number): Promise<string[]> {
  const state = await up('warn', quiet, 2);
  const node = (i: number) => `node${(i % 2) + 1}`;
  const members = Array.from({ length: n }, (_, i) => `member-${i}`);
  await apply(state, [{ apiVersion: 'networkservicemesh.io/v1', kind: 'NetworkService', metadata: { name: 'bench-domain' }, spec: { payload: 'ETHERNET' } }, ...members.map((m, i) => bridgePod(m, node(i), i + 1, 'bench'))], env, () => saveState(state), quiet);
  await until(`a full mesh of ${n} bridges`, () => members.every((m) => linksUp(m) === n - 1));
  const join: number[] = [];
  const alone: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const solo = `solo-${r}`;
    alone.push(await timed(state, bridgePod(solo, 'node1', 100 + r, ''), () => existsSync(registered(solo)), `${solo} registered`));
    const joiner = `joiner-${r}`;
    join.push(await timed(state, bridgePod(joiner, 'node1', 200 + r, 'bench'), () => linksUp(joiner) === n, `${joiner} linked to ${n} bridges`));
    // The joiner asked for every link: stopping it closes them all, and the domain is N bridges again.
    await stopProcs(state.procs.filter((p) => p.pod === joiner || p.pod === solo));
    await until('the members back to their own mesh', () => members.every((m) => linksUp(m) === n - 1));
  }
  await down(quiet);
  const j = median(join);
  const a = median(alone);
  return [String(n), join.map((x) => x.toFixed(0)).join(' '), j.toFixed(0), a.toFixed(0), (j / a).toFixed(2), ((j - a) / n).toFixed(0)];
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark creates network namespaces: run it as root');
  if (loadState()) throw new Error('a sandbox is up; this benchmark builds its own: run nsm sandbox down first');
  removeHandBuilt();
  try {
    const tcp = await throughput();
    console.log(table(['PATH (TCP, Gbit/s)', 'NSM RUNS', 'NSM MEDIAN', 'HAND RUNS', 'HAND MEDIAN', 'RATIO'], [tcp]));
    console.log('');
    const rows: string[][] = [];
    for (const n of [2, 4, 8]) rows.push(await joins(n));
    console.log(table(['N BRIDGES', 'JOIN RUNS (ms)', 'JOIN MEDIAN (ms)', 'START WITHOUT DOMAIN (ms)', 'RATIO', 'PER LINK (ms)'], rows));
    return 0;
  } finally {
    removeHandBuilt();
    await down(quiet);
  }
}

main().then((code) => process.exit(code), (err: unknown) => {
  console.error(`bench:bridge: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
