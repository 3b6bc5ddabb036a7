import type { Command } from '../sdk/cli.ts';
import { describeSchema, loadConfig } from '../sdk/config/types.ts';
import { unknownSettingWarnings } from '../sdk/config/unknown.ts';
import { startTracing } from '../sdk/telemetry/tracing.ts';
import { isNsmError } from '../sdk/errors.ts';

type Loader = () => Promise<{ default: Command }>;

/** Every subcommand, loaded only when used. */
export const commands: ReadonlyArray<readonly [string, Loader]> = [
  ['webhook', () => import('../webhook/command.ts')],
  ['inject', () => import('../webhook/inject-command.ts')],
  ['forwarder', () => import('../forwarder/command.ts')],
  ['nsc init', () => import('../sidecar/nsc/init-command.ts')],
  ['nsc run', () => import('../sidecar/nsc/run-command.ts')],
  ['nsc list', () => import('../sidecar/nsc/list-command.ts')],
  ['nsc request', () => import('../sidecar/nsc/request-command.ts')],
  ['nsc close', () => import('../sidecar/nsc/close-command.ts')],
  ['nse', () => import('../sidecar/nse/command.ts')],
  ['sandbox', () => import('../sandbox/command.ts')],
];

const isHelp = (a: string | undefined) => a === '--help' || a === '-h' || a === 'help';

async function usage(): Promise<string> {
  const summary = (load: Loader) => load().then((m) => m.default.summary, () => '(not part of this installation)');
  const width = Math.max(...commands.map(([name]) => name.length));
  const rows = await Promise.all(commands.map(async ([name, load]) => `  ${name.padEnd(width)}  ${await summary(load)}`));
  return ['nsm: Network Service Mesh for Kubernetes', '', 'usage: nsm <command> [--help]', '', 'commands:', ...rows, ''].join('\n');
}

export function commandHelp(name: string, command: Command): string {
  return [
    `nsm ${name}: ${command.summary}`, '',
    `usage: nsm ${name}${command.usage ? ` ${command.usage}` : ''}`, '',
    'environment:', describeSchema(command.env), '',
  ].join('\n');
}

function find(args: string[]): { name: string; load: Loader; rest: string[] } | undefined {
  for (const [name, load] of commands) {
    const words = name.split(' ');
    if (words.every((w, i) => args[i] === w)) return { name, load, rest: args.slice(words.length) };
  }
  return undefined;
}

export interface Writer {
  write(text: string): unknown;
}

/** Runs one subcommand and returns the process exit code. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv, out: Writer = process.stdout, err: Writer = process.stderr): Promise<number> {
  if (args.length === 0 || isHelp(args[0])) {
    out.write(await usage());
    return args.length === 0 ? 2 : 0;
  }
  const hit = find(args);
  if (!hit) {
    err.write(`nsm: unknown command ${JSON.stringify(args.join(' '))}\n\n${await usage()}`);
    return 2;
  }
  const command = (await hit.load()).default;
  if (hit.rest.some(isHelp)) {
    out.write(commandHelp(hit.name, command));
    return 0;
  }
  for (const line of unknownSettingWarnings(hit.name, command.env, env)) err.write(`nsm ${hit.name}: warning: ${line}\n`);
  try {
    const config = loadConfig(command.env, env);
    const traces = await startTracing(`nsm-${hit.name.replace(' ', '-')}`, env);
    try {
      return (await command.run(config, hit.rest)) ?? 0;
    } finally {
      const lost = await traces?.shutdown();
      if (lost) err.write(`nsm ${hit.name}: warning: the last traces were not exported to the OTLP collector: ${lost}\n`);
    }
  } catch (e) {
    if (isNsmError(e)) {
      err.write(`nsm ${hit.name}: ${e.message}\n`);
      return e.code === 'INVALID_ARGUMENT' ? 2 : e.code === 'UNIMPLEMENTED' ? 3 : 1;
    }
    throw e;
  }
}

