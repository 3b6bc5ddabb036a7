/**
 * Dataplane throughput: iperf3 pod to pod through paths nsm negotiated (sandbox, 2 nodes) side by
 * side with the same kind of path built by hand with `ip`, in namespaces only. 3 runs per path,
 * every run bounded by `timeout`; prints medians and the negotiated/hand-built ratio.
 *   sudo npm run bench:dataplane            (BENCH_SECONDS=4 per run by default)
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { applyFiles, down, up } from '../sandbox/lifecycle.ts';
import { connections, table } from '../sandbox/report.ts';
import { loadState, NETNS_PREFIX } from '../sandbox/state.ts';
import { buildUnderlay, freeSubnet } from '../sandbox/topology.ts';
import { iperf as iperfFor, median } from './iperf.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const RUNS = 3;
const HAND = 'nsmbench-';
const quiet = () => {};
const iperf = (server: string, client: string, address: string) => iperfFor(server, client, address, SECONDS);

function ip(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
}

/** Two nodes on an underlay with a pod pair across them (VXLAN, MTU 1450) and a pod pair on node1 (veth). */
function handBuilt(): { vxlan: [string, string, string]; veth: [string, string, string] } {
  const n = ['n1', 'n2', 'a', 'b', 'c', 'd'].map((x) => `${HAND}${x}`);
  for (const ns of n) ip(['netns', 'add', ns]);
  const [u1, u2] = buildUnderlay(`${HAND}ul`, [n[0], n[1]], freeSubnet());
  ip(['-n', n[0], 'link', 'add', 'vx', 'netns', n[2], 'type', 'vxlan', 'id', '4242', 'local', u1.ip, 'remote', u2.ip, 'dstport', '4789', 'dev', u1.ifname]);
  ip(['-n', n[1], 'link', 'add', 'vx', 'netns', n[3], 'type', 'vxlan', 'id', '4242', 'local', u2.ip, 'remote', u1.ip, 'dstport', '4789', 'dev', u2.ifname]);
  ip(['-n', n[0], 'link', 'add', 've', 'netns', n[4], 'type', 'veth', 'peer', 'name', 've', 'netns', n[5]]);
  for (const [ns, dev, addr] of [[n[2], 'vx', '10.239.0.1/30'], [n[3], 'vx', '10.239.0.2/30'], [n[4], 've', '10.239.1.1/30'], [n[5], 've', '10.239.1.2/30']]) {
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    ip(['-n', ns, 'addr', 'add', addr, 'dev', dev]);
    ip(['-n', ns, 'link', 'set', dev, 'mtu', dev === 'vx' ? '1450' : '1500', 'up']);
  }
  return { vxlan: [n[3], n[2], '10.239.0.2'], veth: [n[5], n[4], '10.239.1.2'] };
}

function removeHandBuilt(): void {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').map((l) => l.split(' ')[0]).filter((x) => x.startsWith(HAND));
  for (const ns of list) spawnSync('ip', ['netns', 'del', ns]);
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark creates network namespaces: run it as root');
  if (loadState()) throw new Error('a sandbox is up; this benchmark builds its own: run nsm sandbox down first');
  removeHandBuilt();
  try {
    await up('warn', quiet, 2);
    for (const ex of ['kernel2kernel', 'kernel2ethernet2kernel']) {
      const dir = resolve(import.meta.dirname, '../examples', ex);
      await applyFiles(readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort().map((f) => resolve(dir, f)), 'warn', quiet);
    }
    const rows = connections(loadState()!);
    const path = (mech: string): [string, string, string] => {
      const r = rows.find((x) => x.mechanism === mech && (mech === 'KERNEL' || x.endpoint.startsWith('nse-remote')));
      if (!r) throw new Error(`the sandbox has no ${mech} connection: ${JSON.stringify(rows)}`);
      return [`${NETNS_PREFIX}${r.endpoint}`, r.netns, r.peer.split('/')[0]];
    };
    const hand = handBuilt();
    const paths: Array<[string, [string, string, string], [string, string, string]]> = [
      ['VXLAN across nodes', path('VXLAN'), hand.vxlan],
      ['veth same node', path('KERNEL'), hand.veth],
    ];
    const out: string[][] = [];
    for (const [name, nsm, manual] of paths) {
      const a: number[] = [];
      const b: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        a.push(await iperf(...nsm));
        b.push(await iperf(...manual));
      }
      out.push([name, a.map((x) => x.toFixed(2)).join(' '), median(a).toFixed(2), b.map((x) => x.toFixed(2)).join(' '), median(b).toFixed(2), (median(a) / median(b)).toFixed(2)]);
    }
    console.log(table(['PATH (TCP, Gbit/s)', 'NSM RUNS', 'NSM MEDIAN', 'HAND RUNS', 'HAND MEDIAN', 'RATIO'], out));
    return 0;
  } finally {
    removeHandBuilt();
    await down(quiet);
  }
}

main().then((code) => process.exit(code), (err: unknown) => {
  console.error(`bench:dataplane: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
