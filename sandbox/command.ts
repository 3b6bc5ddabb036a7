import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { logLevel } from '../sdk/config/index.ts';
import { defineCommand } from '../sdk/cli.ts';
import { NsmError } from '../sdk/errors.ts';
import { requireHost } from './host-checks.ts';
import { kill, restart } from './faults.ts';
import { applyFiles, down, up } from './lifecycle.ts';
import { connections, pingMatrix, status, table } from './report.ts';
import { loadState } from './state.ts';
import { parsePoolSpec, type PoolSpec } from './device-pools.ts';
import { runKubelet } from './kubelet/process.ts';

const EXAMPLES = ['kernel2kernel', 'kernel2ethernet2kernel', 'external-device', 'device-pool'].map((e) => resolve(import.meta.dirname, '../examples', e));
const DEMO_NODES = 2;
/** The device examples/external-device configures. */
const DEMO_DEVICES = ['router1'];
/** The pool examples/device-pool draws from. */
const DEMO_POOLS = [{ resource: 'nsm.example.com/radio', count: 2 }];
/** One connection per client pod of the examples. */
const DEMO_CONNECTIONS = 5;
const say = (line: string) => void process.stdout.write(`${line}\n`);

function files(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) if (args[i] === '-f' && args[i + 1]) out.push(args[++i]);
  if (out.length === 0) throw new NsmError('INVALID_ARGUMENT', 'apply needs -f FILE (a YAML file with pods, deployments and NetworkServices; -f may repeat; -f - reads standard input, e.g. kubectl kustomize DIR | nsm sandbox apply -f -)');
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

async function demo(keep: boolean, level: string): Promise<number> {
  const started = Date.now();
  const manifests = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort().map((f) => join(dir, f));
  await requireHost({ buildsNodes: true, nodes: DEMO_NODES });
  try {
    await up(level, say, DEMO_NODES, { devices: DEMO_DEVICES, pools: DEMO_POOLS });
    for (const dir of EXAMPLES) await applyFiles(manifests(dir), level, say);
    const until = Date.now() + 10_000;
    while (connections(loadState()!).length < DEMO_CONNECTIONS && Date.now() < until) await sleep(100);
    say('');
    status(say);
    say('');
    const pings = pingMatrix(loadState()!);
    say(table(['CLIENT', 'NODE', 'MECHANISM', 'PATH', 'PING', 'LOSS', 'RTT'], pings));
    say('');
    const ok = pings.length > 0 && pings.every((p) => p[4] === 'ok');
    say(`${ok ? 'demo ok' : 'demo FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (keep) say('left running (--keep): inspect with `ip netns list`, `nsm sandbox status`; remove with `nsm sandbox down`');
    return ok ? 0 : 1;
  } finally {
    if (!keep) await down(say);
  }
}

export default defineCommand({
  summary: 'run the whole mesh on this Linux host: network namespaces as nodes and pods (root)',
  usage: 'up [--nodes N] [--external NAME]... [--pool RESOURCE=COUNT]... | apply -f FILE|- | status | kill POD|node/NAME | restart POD|node/NAME | down | demo [--keep]',
  env: { NSM_LOG_LEVEL: logLevel() },
  async run(config, args) {
    const level = config.NSM_LOG_LEVEL;
    switch (args[0]) {
      case 'up': await up(level, say, nodeCount(args), { devices: deviceNames(args), pools: poolSpecs(args) }); return 0;
      // Started by up --pool: a node's kubelet, until SIGTERM.
      case 'kubelet': return runKubelet(args[1] ?? '', level);
      case 'apply': await applyFiles(files(args.slice(1)), level, say); return 0;
      case 'status': return status(say) ? 0 : 1;
      case 'kill': await kill(args[1], say); return 0;
      case 'restart': await restart(args[1], say); return 0;
      case 'down': await down(say); return 0;
      case 'demo': return demo(args.includes('--keep'), level);
      default: throw new NsmError('INVALID_ARGUMENT', `unknown sandbox action ${JSON.stringify(args[0] ?? '')}: use up [--nodes N] [--external NAME] [--pool RESOURCE=COUNT], apply -f FILE, status, kill POD|node/NAME, restart POD|node/NAME, down or demo [--keep]`);
    }
  },
});
