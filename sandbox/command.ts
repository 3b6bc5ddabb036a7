import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { logLevel } from '../sdk/config/index.ts';
import { defineCommand } from '../sdk/cli.ts';
import { NsmError } from '../sdk/errors.ts';
import { requireHost } from './host-checks.ts';
import { kill, restart } from './faults.ts';
import { applyFiles, down, up } from './lifecycle.ts';
import { bridgeMatrix, connections, pingMatrix, status, table } from './report.ts';
import { loadState } from './state.ts';
import { parsePoolSpec, type PoolSpec } from './device-pools.ts';
import { runKubelet } from './kubelet/process.ts';
import { annotate, exec } from './pod-commands.ts';
import { liveDemo } from './live-demo.ts';

/** The examples the demo can run, each with the nodes, the devices outside the cluster and the device pools it needs. */
const DEMO_EXAMPLES: Record<string, { nodes: number; devices?: string[]; pools?: PoolSpec[] }> = {
  kernel2kernel: { nodes: 1 },
  kernel2ethernet2kernel: { nodes: 2 },
  'external-device': { nodes: 2, devices: ['router1'] },
  'l2-bridge': { nodes: 1 },
  'bridge-domain': { nodes: 3 },
  'device-pool': { nodes: 1, pools: [{ resource: 'nsm.example.com/radio', count: 2 }] },
  healing: { nodes: 1 },
  'service-chain': { nodes: 2 },
  'live-connections': { nodes: 1 },
};
const DEFAULT_DEMO = ['kernel2kernel', 'kernel2ethernet2kernel', 'external-device', 'bridge-domain', 'device-pool', 'live-connections'];
const say = (line: string) => void process.stdout.write(`${line}\n`);

function demoExamples(args: string[]): string[] {
  const named = args.filter((a) => !a.startsWith('--'));
  const unknown = named.find((n) => !Object.hasOwn(DEMO_EXAMPLES, n));
  if (unknown !== undefined) throw new NsmError('INVALID_ARGUMENT', `the demo has no example ${JSON.stringify(unknown)}: name one or more of ${Object.keys(DEMO_EXAMPLES).join(', ')} (none: ${DEFAULT_DEMO.join(', ')})`);
  return named.length > 0 ? named : DEFAULT_DEMO;
}

function files(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) if (args[i] === '-f' && args[i + 1]) out.push(args[++i]);
  if (out.length === 0) throw new NsmError('INVALID_ARGUMENT', 'apply needs -f FILE (a YAML file with pods, deployments and NetworkServices, or a folder of them such as examples/l2-bridge; -f may repeat; -f - reads standard input, e.g. kubectl kustomize DIR | nsm sandbox apply -f -)');
  return out;
}

function nodeCount(args: string[]): number {
  const i = args.indexOf('--nodes');
  if (i < 0) return 1;
  const n = Number(args[i + 1]);
  if (!Number.isInteger(n) || n < 1) throw new NsmError('INVALID_ARGUMENT', `--nodes needs a whole number of nodes, e.g. --nodes 2 (got ${JSON.stringify(args[i + 1] ?? '')})`);
  return n;
}

/** Every `--pool <resource>=<count>`. */
function poolSpecs(args: string[]): PoolSpec[] {
  return args.flatMap((a, i) => (a === '--pool' ? [parsePoolSpec(args[i + 1])] : []));
}

/** Every `--external NAME` (the option may repeat). */
function deviceNames(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] !== '--external') continue;
    const name = args[i + 1];
    if (!name || name.startsWith('-')) throw new NsmError('INVALID_ARGUMENT', '--external needs the name of a device outside the cluster, e.g. --external router1');
    out.push(name);
  }
  return out;
}

async function demo(examples: string[], keep: boolean, level: string): Promise<number> {
  const started = Date.now();
  const nodes = Math.max(...examples.map((e) => DEMO_EXAMPLES[e].nodes));
  await requireHost({ buildsNodes: true, nodes });
  try {
    const devices = [...new Set(examples.flatMap((e) => DEMO_EXAMPLES[e].devices ?? []))];
    await up(level, say, nodes, { devices, pools: examples.flatMap((e) => DEMO_EXAMPLES[e].pools ?? []) });
    for (const e of examples) await applyFiles([resolve(import.meta.dirname, '../examples', e)], level, say);
    if (examples.includes('live-connections')) await liveDemo(say);
    const clients = () => loadState()!.pods.filter((p) => p.connectionsDir).length;
    const until = Date.now() + 10_000;
    while (connections(loadState()!).length < clients() && Date.now() < until) await sleep(100);
    say('');
    status(say);
    say('');
    const pings = pingMatrix(loadState()!);
    say(table(['CLIENT', 'NODE', 'MECHANISM', 'PATH', 'PING', 'LOSS', 'RTT'], pings));
    const l2 = bridgeMatrix(loadState()!);
    if (l2.length > 0) {
      say('');
      say('client to client, at layer 2 through the bridges:');
      say(table(['SERVICE', 'CLIENT', 'NODE', 'TO', 'NODE', 'ADDRESS', 'PING'], l2));
    }
    say('');
    const ok = pings.length > 0 && pings.every((p) => p[4] === 'ok') && l2.every((p) => p[6] === 'ok');
    say(`${ok ? 'demo ok' : 'demo FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (keep) say('left running (--keep): inspect with `ip netns list`, `nsm sandbox status`; remove with `nsm sandbox down`');
    return ok ? 0 : 1;
  } finally {
    if (!keep) await down(say);
  }
}

export default defineCommand({
  summary: 'run the whole mesh on this Linux host: network namespaces as nodes and pods (root)',
  usage: `up [--nodes N] [--external NAME]... [--pool RESOURCE=COUNT]... | apply -f FILE|DIR|- | status | annotate POD KEY=VALUE|KEY-... [--overwrite] | exec POD [-c CONTAINER] -- COMMAND... | kill POD|node/NAME | restart POD|node/NAME | down | demo [EXAMPLE...] [--keep] (examples: ${Object.keys(DEMO_EXAMPLES).join(', ')})`,
  env: { NSM_LOG_LEVEL: logLevel() },
  async run(config, args) {
    const level = config.NSM_LOG_LEVEL;
    switch (args[0]) {
      case 'up': await up(level, say, nodeCount(args), { devices: deviceNames(args), pools: poolSpecs(args) }); return 0;
      // Started by up --pool: a node's kubelet, until SIGTERM.
      case 'kubelet': return runKubelet(args[1] ?? '', level);
      case 'apply': await applyFiles(files(args.slice(1)), level, say); return 0;
      case 'status': return status(say) ? 0 : 1;
      case 'annotate': annotate(args.slice(1), say); return 0;
      case 'exec': return exec(args.slice(1));
      case 'kill': await kill(args[1], say); return 0;
      case 'restart': await restart(args[1], say); return 0;
      case 'down': await down(say); return 0;
      case 'demo': return demo(demoExamples(args.slice(1)), args.includes('--keep'), level);
      default: throw new NsmError('INVALID_ARGUMENT', `unknown sandbox action ${JSON.stringify(args[0] ?? '')}: use up [--nodes N] [--external NAME] [--pool RESOURCE=COUNT], apply -f FILE|DIR, status, annotate POD KEY=VALUE, exec POD -- COMMAND, kill POD|node/NAME, restart POD|node/NAME, down or demo [EXAMPLE...] [--keep]`);
    }
  },
});
