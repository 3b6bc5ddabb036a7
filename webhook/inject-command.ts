import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { logLevel } from '../sdk/config/index.ts';
import { defineCommand } from '../sdk/cli.ts';
import { NsmError } from '../sdk/errors.ts';
import { injectionEnv } from './env.ts';
import { injectionConfigFromEnv } from './injection-config.ts';
import { injectManifest, parseDocuments } from './workload-documents.ts';
import { namespaceInfo, type NamespaceInfo } from './namespace-info.ts';

async function readInput(file: string, stdin: NodeJS.ReadableStream): Promise<string> {
  if (file !== '-') {
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      throw new NsmError('INVALID_ARGUMENT', `cannot read ${file}: ${(err as Error).message}`);
    }
  }
  const chunks: Buffer[] = [];
  for await (const c of stdin) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** Namespaces by name; a file with a single namespace also applies to objects that name none. */
export function namespaceResolver(namespaces: NamespaceInfo[]): (name: string | undefined) => NamespaceInfo | undefined {
  const byName = new Map(namespaces.map((n) => [n.name, n]));
  return (name) => (name === undefined ? (namespaces.length === 1 ? namespaces[0] : undefined) : byName.get(name));
}

export interface InjectIo {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export const injectCommandEnv = { ...injectionEnv, NSM_LOG_LEVEL: logLevel('warn') };

export async function runInject(env: Parameters<typeof injectionConfigFromEnv>[0], args: string[], io: InjectIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { filename: { type: 'string', short: 'f' }, output: { type: 'string', short: 'o', default: 'yaml' }, 'namespace-file': { type: 'string' } },
      strict: true,
    });
  } catch (err) {
    throw new NsmError('INVALID_ARGUMENT', `${(err as Error).message}; usage: nsm inject -f FILE|- [-o yaml|json] [--namespace-file FILE]`);
  }
  const { filename, output, 'namespace-file': nsFile } = parsed.values;
  if (filename === undefined) throw new NsmError('INVALID_ARGUMENT', 'missing -f FILE (use -f - to read standard input)');
  if (output !== 'yaml' && output !== 'json') throw new NsmError('INVALID_ARGUMENT', `-o ${output}: expected yaml or json`);
  const namespaces = nsFile === undefined ? [] : parseDocuments(await readInput(nsFile, io.stdin), nsFile).map(namespaceInfo);
  // Offline there is no API server to ask, so `auto` means classic sidecars; set NSM_NATIVE_SIDECAR=on for native ones.
  const config = injectionConfigFromEnv(env, env.NSM_NATIVE_SIDECAR === 'on');
  const resolve = namespaceResolver(namespaces);
  const outputs: unknown[] = [];
  const source = filename === '-' ? 'standard input' : filename;
  for (const [i, doc] of parseDocuments(await readInput(filename, io.stdin), source).entries()) {
    const result = injectManifest(doc, resolve, config);
    for (const { object, decision } of result.decisions) {
      if (decision.kind === 'deny') throw new NsmError('INVALID_ARGUMENT', `${source}: document ${i + 1} (${object}): ${decision.message}`);
      if (decision.kind === 'skip' && decision.warning) io.stderr.write(`nsm inject: ${object}: ${decision.warning}\n`);
    }
    outputs.push(result.object);
  }
  if (output === 'json') {
    const body = outputs.length === 1 ? outputs[0] : { apiVersion: 'v1', kind: 'List', items: outputs };
    io.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
  } else {
    io.stdout.write(outputs.map((o) => stringify(o, { lineWidth: 0 })).join('---\n'));
  }
  return 0;
}

export default defineCommand({
  summary: 'inject the NSM client into pods and workload templates offline (GitOps)',
  usage: '-f FILE|- [-o yaml|json] [--namespace-file FILE]',
  env: injectCommandEnv,
  run: async (env, args) => runInject(env, args, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }),
});
