import { spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, writeFileSync, closeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runIpSync } from '../sdk/ip-command.ts';

export const STATE_DIR = process.env.NSM_SANDBOX_DIR || '/run/nsm-sandbox';
/** Every namespace of the sandbox starts with this (NSM_SANDBOX_NETNS_PREFIX; tests give their own so they never meet a user's sandbox). */
export const NETNS_PREFIX = process.env.NSM_SANDBOX_NETNS_PREFIX || 'nsmsb-';
export const NODE = 'node1';
export const NSM_BIN = resolve(import.meta.dirname, '../bin/nsm.ts');

export const UNDERLAY_NETNS = `${NETNS_PREFIX}underlay`;
/** Node names: node1..nodeN. */
export const nodeName = (i: number) => `node${i + 1}`;

export const paths = {
  state: join(STATE_DIR, 'state.json'),
  logs: join(STATE_DIR, 'logs'),
  registry: join(STATE_DIR, 'registry'),
  ca: join(STATE_DIR, 'ca'),
  /** A node's /var/lib/networkservicemesh (the nsm-socket hostPath). */
  nodeDir: (node: string) => join(STATE_DIR, node, 'var-lib-networkservicemesh'),
  pod: (pod: string) => join(STATE_DIR, 'pods', pod),
  /** A node's /var/lib/kubelet (device-plugins/, pod-resources/) and its sandbox kubelet's control socket. */
  kubelet: (node: string) => join(STATE_DIR, node, 'var-lib-kubelet'),
  /** A node's forwarder's NSM_DEVICE_POOLS file. */
  devicePools: (node: string) => join(STATE_DIR, node, 'device-pools.yaml'),
  configMap: (name: string) => join(STATE_DIR, 'configmaps', `${name}.json`),
};

export const forwarderSocket = (node = NODE) => join(paths.nodeDir(node), 'nsm.io.sock');

export interface Proc {
  pid: number;
  starttime: string;
  pod: string;
  container: string;
  log: string;
  /** How it was started, so `nsm sandbox restart` can start it again (absent in states of older versions). */
  netns?: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
}

export interface SandboxNode {
  name: string;
  netns: string;
  /** Underlay address (peering and tunnels). */
  ip: string;
}

/** A pod's metadata as its downward API volumes show it. */
export interface PodMeta {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** A downwardAPI volume of a pod: its directory here, and each file's field. */
export interface DownwardVolume {
  dir: string;
  items: Array<{ path: string; fieldPath: string }>;
}

export interface SandboxPod {
  name: string;
  netns: string;
  node?: string;
  labels?: Record<string, string>;
  /** Where the pod's client writes its connections, when it has one. */
  connectionsDir?: string;
  namespace?: string;
  annotations?: Record<string, string>;
  /** Rewritten when the pod's metadata changes (`nsm sandbox annotate`). */
  downward?: DownwardVolume[];
  /** The env of its nsm containers, by container name (what `nsm sandbox exec` runs a command with). */
  envs?: Record<string, Record<string, string>>;
}

export interface State {
  nodes?: SandboxNode[];
  /** Devices outside the cluster (`up --external NAME`): namespaces on the underlay, running no forwarder. */
  devices?: SandboxNode[];
  pods: SandboxPod[];
  procs: Proc[];
  /** Round-robin position for pods that name no node. */
  placed?: number;
  /** Device pools (up --pool), one entry per pool and node. */
  pools?: SandboxPool[];
}

export interface SandboxPool {
  resource: string;
  service: string;
  node: string;
  devices: string[];
  /** The network behind the pool, and its gateway (what its clients ping). */
  cidr: string;
  gateway: string;
  /** The pool's endpoint name in the registry. */
  endpoint: string;
}

export function loadState(): State | undefined {
  try {
    return JSON.parse(readFileSync(paths.state, 'utf8')) as State;
  } catch {
    return undefined;
  }
}

export function saveState(s: State): void {
  mkdirSync(STATE_DIR, { recursive: true });
  writeFileSync(paths.state, `${JSON.stringify(s, null, 2)}\n`);
}

export function ip(args: string[]): { ok: boolean; out: string; err: string } {
  const r = runIpSync(args);
  return { ok: r.ok, out: r.stdout, err: r.stderr.trim() };
}

/** Field 22 of /proc/<pid>/stat: tells a process from a later one that got the same pid. */
export function starttime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

export const alive = (p: Proc) => starttime(p.pid) === p.starttime;

/** Starts `nsm <args>` inside a pod's namespace, detached, logging to a file. */
export function startNsm(netns: string, pod: string, container: string, args: string[], env: NodeJS.ProcessEnv): Proc {
  mkdirSync(paths.logs, { recursive: true });
  const log = join(paths.logs, `${pod}.${container}.log`);
  const fd = openSync(log, 'a');
  const child = spawn('ip', ['netns', 'exec', netns, process.execPath, NSM_BIN, ...args], { env, detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.unref();
  const pid = child.pid!;
  return { pid, starttime: starttime(pid) ?? '', pod, container, log, netns, args, env };
}

/** Runs `nsm <args>` inside a pod's namespace to completion (init containers); `stop` ends it early. */
export function runNsm(netns: string, pod: string, container: string, args: string[], env: NodeJS.ProcessEnv, limitMs: number): { done: Promise<{ code: number | null; log: string }>; stop(): void; log: string } {
  mkdirSync(paths.logs, { recursive: true });
  const log = join(paths.logs, `${pod}.${container}.log`);
  const fd = openSync(log, 'a');
  const child = spawn('ip', ['netns', 'exec', netns, process.execPath, NSM_BIN, ...args], { env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
  const done = new Promise<{ code: number | null; log: string }>((r) => child.on('exit', (code) => {
    clearTimeout(timer);
    r({ code, log });
  }));
  return { done, stop: () => void child.kill('SIGTERM'), log };
}

/** SIGTERM to each recorded process that is still the one we started, SIGKILL after `graceMs`. */
export async function stopProcs(procs: Proc[], graceMs = 5000): Promise<void> {
  const running = procs.filter(alive);
  for (const p of running) process.kill(p.pid, 'SIGTERM');
  const until = Date.now() + graceMs;
  while (running.some(alive) && Date.now() < until) await sleep(50);
  for (const p of running.filter(alive)) process.kill(p.pid, 'SIGKILL');
}
