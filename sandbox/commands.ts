import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '../proto/api.ts';
import { NsmError } from '../sdk/errors.ts';
import { apply, readManifests } from './apply.ts';
import { forwarderSocket, ip, loadState, NETNS_PREFIX, NODE, paths, saveState, startNsm, STATE_DIR, stopProcs, alive, type State } from './state.ts';

export type Say = (line: string) => void;

function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new NsmError('PERMISSION_DENIED', 'the sandbox creates network namespaces and runs the forwarder, which needs root: run it with sudo (sudo npm start, or sudo npx nsm sandbox ...)');
  }
}

function baseEnv(logLevel: string): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, NSM_LOG_LEVEL: logLevel };
}

/** Stops what an earlier run left (processes by recorded pid, namespaces with our prefix) and removes the state directory. */
export async function down(say: Say): Promise<void> {
  requireRoot();
  const state = loadState();
  if (state) {
    const clients = state.procs.filter((p) => p.container !== 'forwarder');
    // Clients first so they close their connections while the forwarder still listens.
    await stopProcs(clients.filter((p) => !/nse|endpoint/.test(p.container)));
    await stopProcs(clients);
    await stopProcs(state.procs);
  }
  const ours = ip(['netns', 'list']).out.split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith(NETNS_PREFIX));
  for (const n of ours) ip(['netns', 'del', n]);
  rmSync(STATE_DIR, { recursive: true, force: true });
  if (state || ours.length > 0) say(`sandbox removed (${ours.length} namespaces, ${state?.procs.length ?? 0} processes)`);
}

export async function up(logLevel: string, say: Say): Promise<State> {
  requireRoot();
  if (existsSync(STATE_DIR) || ip(['netns', 'list']).out.includes(NETNS_PREFIX)) await down(say);
  const netns = `${NETNS_PREFIX}${NODE}`;
  const made = ip(['netns', 'add', netns]);
  if (!made.ok) throw new NsmError('INTERNAL', `cannot create network namespace ${netns}: ${made.err}`);
  const state: State = { pods: [{ name: NODE, netns }], procs: [] };
  saveState(state);
  state.procs.push(startNsm(netns, NODE, 'forwarder', ['forwarder'], {
    ...baseEnv(logLevel), NSM_NAME: NODE, NSM_LISTEN_ON: `unix://${forwarderSocket()}`, NSM_REGISTRY_DIR: paths.registry,
  }));
  saveState(state);
  const until = Date.now() + 15_000;
  while (!isSocket(forwarderSocket())) {
    if (!alive(state.procs[0]) || Date.now() > until) {
      throw new NsmError('UNAVAILABLE', `the forwarder did not start; its log ${state.procs[0].log}:\n${readFileSync(state.procs[0].log, 'utf8').trim()}`);
    }
    await sleep(50);
  }
  say(`node ${NODE} up: forwarder listening on ${forwarderSocket()}`);
  return state;
}

function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket();
  } catch {
    return false;
  }
}

export async function applyFiles(files: string[], logLevel: string, say: Say): Promise<void> {
  requireRoot();
  const state = loadState();
  if (!state) throw new NsmError('FAILED_PRECONDITION', 'the sandbox is not up: run nsm sandbox up first');
  const docs = readManifests(files);
  const order = (d: Record<string, any>) => (d.kind === 'NetworkService' ? 0 : d.metadata?.annotations?.['networkservicemesh.io'] || d.spec?.template?.metadata?.annotations?.['networkservicemesh.io'] ? 2 : 1);
  docs.sort((a, b) => order(a) - order(b));
  const r = await apply(state, docs, baseEnv(logLevel), () => saveState(state), say);
  if (r.skipped.length > 0) say(`not run (the sandbox runs only nsm containers): ${r.skipped.join(', ')}`);
}

export interface Row {
  pod: string;
  netns: string;
  ifname: string;
  address: string;
  peer: string;
  mechanism: string;
  endpoint: string;
}

export function connections(state: State): Row[] {
  const rows: Row[] = [];
  for (const pod of state.pods) {
    const dir = pod.connectionsDir ?? join(paths.pod(pod.name), 'connections');
    for (const file of existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : []) {
      const c = Connection.fromJSON(JSON.parse(readFileSync(join(dir, file), 'utf8')));
      rows.push({
        pod: pod.name, netns: pod.netns, ifname: file.slice(0, -5),
        address: c.context?.ipContext?.srcIpAddrs.join(',') ?? '', peer: c.context?.ipContext?.dstIpAddrs.join(',') ?? '',
        mechanism: c.mechanism?.type ?? '', endpoint: c.networkServiceEndpointName,
      });
    }
  }
  return rows;
}

export function table(header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows].map((r) => r.map((c, i) => c.padEnd(w[i])).join('  ').trimEnd()).join('\n');
}

export function status(say: Say): State | undefined {
  const state = loadState();
  if (!state) {
    say('the sandbox is not up');
    return undefined;
  }
  say(table(['PROCESS', 'POD', 'CONTAINER', 'STATE'], state.procs.map((p) => [String(p.pid), p.pod, p.container, alive(p) ? 'running' : 'exited'])));
  say('');
  say(table(['POD', 'INTERFACE', 'ADDRESS', 'ENDPOINT ADDRESS', 'MECHANISM', 'ENDPOINT'], connections(state).map((r) => [r.pod, r.ifname, r.address, r.peer, r.mechanism, r.endpoint])));
  return state;
}

export function pingMatrix(state: State): string[][] {
  return connections(state).map((r) => {
    const to = r.peer.split(',')[0]?.split('/')[0] ?? '';
    const res = spawnSync('ip', ['netns', 'exec', r.netns, 'ping', '-c', '3', '-i', '0.2', '-W', '1', '-I', r.ifname, to], { encoding: 'utf8', timeout: 10_000 });
    const loss = /(\d+(?:\.\d+)?)% packet loss/.exec(res.stdout)?.[1] ?? '100';
    const rtt = /= [\d.]+\/([\d.]+)\//.exec(res.stdout)?.[1];
    return [r.pod, `${r.ifname} -> ${to}`, res.status === 0 ? 'ok' : 'FAIL', `${loss}% loss`, rtt ? `${rtt} ms` : '-'];
  });
}
