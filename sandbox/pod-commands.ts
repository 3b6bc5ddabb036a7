import { spawnSync } from 'node:child_process';
import { NsmError } from '../sdk/errors.ts';
import { projectDownwardVolumes } from './downward-volumes.ts';
import { loadState, NSM_BIN, saveState, type SandboxPod, type State } from './state.ts';

type Say = (line: string) => void;

/** Kubernetes' rule for an annotation key: an optional DNS-subdomain prefix and a slash, then a name of at most 63 characters. */
const ANNOTATION_KEY = /^(([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

function podOf(state: State | undefined, name: string | undefined): { state: State; pod: SandboxPod } {
  if (!state) throw new NsmError('FAILED_PRECONDITION', 'the sandbox is not up: run nsm sandbox up first');
  const pod = state.pods.find((p) => p.name === name);
  if (!pod) throw new NsmError('NOT_FOUND', `pod ${JSON.stringify(name ?? '')} is not in the sandbox (pods: ${state.pods.map((p) => p.name).join(', ') || 'none yet'})`);
  return { state, pod };
}

type Change = { key: string; value?: string };

function parseChanges(args: string[]): Change[] {
  const changes = args.filter((a) => a !== '--overwrite').map((a): Change => {
    const eq = a.indexOf('=');
    const key = eq < 0 ? a.replace(/-$/, '') : a.slice(0, eq);
    if (eq < 0 && !a.endsWith('-')) throw new NsmError('INVALID_ARGUMENT', `${JSON.stringify(a)}: write KEY=VALUE to set an annotation, or KEY- to remove it`);
    if (!ANNOTATION_KEY.test(key)) throw new NsmError('INVALID_ARGUMENT', `${JSON.stringify(key)} is not a valid annotation key (an optional DNS prefix and /, then letters, digits, -, _ and ., at most 63)`);
    return eq < 0 ? { key } : { key, value: a.slice(eq + 1) };
  });
  if (changes.length === 0) throw new NsmError('INVALID_ARGUMENT', 'annotate needs KEY=VALUE or KEY- after the pod name, e.g. nsm sandbox annotate alpine networkservicemesh.io=kernel://my-service/nsm-1 --overwrite');
  return changes;
}

/**
 * `kubectl annotate pod NAME KEY=VALUE... KEY-... [--overwrite]` for a sandbox pod: its
 * annotations change, and every downward API volume that shows them is rewritten, as the kubelet
 * rewrites them. As kubectl, a key that has another value is changed only with --overwrite.
 */
export function annotate(args: string[], say: Say): void {
  const { state, pod } = podOf(loadState(), args[0]);
  const changes = parseChanges(args.slice(1));
  let annotations = { ...pod.annotations };
  const clash = changes.filter((c) => c.value !== undefined && Object.hasOwn(annotations, c.key) && annotations[c.key] !== c.value);
  if (clash.length > 0 && !args.includes('--overwrite')) {
    throw new NsmError('FAILED_PRECONDITION', `--overwrite is false but found the following declared annotation(s): ${clash.map((c) => `'${c.key}' already has a value (${annotations[c.key]})`).join('; ')}`);
  }
  for (const c of changes) {
    annotations = c.value === undefined ? Object.fromEntries(Object.entries(annotations).filter(([k]) => k !== c.key)) : { ...annotations, [c.key]: c.value };
  }
  pod.annotations = annotations;
  saveState(state);
  projectDownwardVolumes({ name: pod.name, namespace: pod.namespace ?? 'default', labels: pod.labels ?? {}, annotations }, pod.downward ?? []);
  say(`pod/${pod.name} annotated`);
}

/**
 * `kubectl exec POD [-c CONTAINER] -- COMMAND...` for a sandbox pod: the command runs in the
 * pod's network namespace with the container's env, or without -c as in an application container
 * of the pod (which has the sidecar's client API socket, NSM_CLIENT_API, at the same path); `nsm`
 * is this installation's CLI. Returns the command's exit code.
 */
export function exec(args: string[]): number {
  const dash = args.indexOf('--');
  const before = dash < 0 ? args.slice(0, 1) : args.slice(0, dash);
  const command = dash < 0 ? args.slice(1) : args.slice(dash + 1);
  const { pod } = podOf(loadState(), before[0]);
  const c = before.indexOf('-c');
  const envs = pod.envs ?? {};
  if (command.length === 0) throw new NsmError('INVALID_ARGUMENT', 'exec needs a command after --, e.g. nsm sandbox exec alpine -- nsm nsc list');
  let env: Record<string, string>;
  if (c >= 0) {
    env = envs[before[c + 1] ?? ''];
    if (!env) throw new NsmError('NOT_FOUND', `pod ${pod.name} has no running nsm container ${before[c + 1] ?? ''} (containers: ${Object.keys(envs).join(', ') || 'none'})`);
  } else {
    const api = Object.values(envs).find((e) => e.NSM_CLIENT_API)?.NSM_CLIENT_API;
    env = api ? { NSM_CLIENT_API: api } : {};
  }
  const argv = command[0] === 'nsm' ? [process.execPath, NSM_BIN, ...command.slice(1)] : command;
  const r = spawnSync('ip', ['netns', 'exec', pod.netns, ...argv], { stdio: 'inherit', env: { PATH: process.env.PATH, ...env } });
  if (r.error) throw new NsmError('FAILED_PRECONDITION', `cannot run ${command[0]} in pod ${pod.name}: ${r.error.message}`);
  return r.status ?? 1;
}
