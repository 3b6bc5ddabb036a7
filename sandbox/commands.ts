import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '../proto/api.ts';
import { NsmError } from '../sdk/errors.ts';
import { apply, readManifests } from './apply.ts';
import { makeCa, makeLeaf } from './certs.ts';
import { forwarderSocket, ip, loadState, NETNS_PREFIX, nodeName, paths, saveState, startNsm, STATE_DIR, stopProcs, alive, UNDERLAY_NETNS, type State } from './state.ts';
import { buildUnderlay, freeSubnet } from './topology.ts';

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

export async function up(logLevel: string, say: Say, nodeCount = 1): Promise<State> {
  requireRoot();
  if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > 16) throw new NsmError('INVALID_ARGUMENT', `--nodes ${nodeCount}: give a whole number from 1 to 16`);
  if (existsSync(STATE_DIR) || ip(['netns', 'list']).out.includes(NETNS_PREFIX)) await down(say);
  const names = Array.from({ length: nodeCount }, (_, i) => nodeName(i));
  for (const n of names) {
    const made = ip(['netns', 'add', `${NETNS_PREFIX}${n}`]);
    if (!made.ok) throw new NsmError('INTERNAL', `cannot create network namespace ${NETNS_PREFIX}${n}: ${made.err}`);
  }
  const subnet = freeSubnet();
  const underlay = buildUnderlay(UNDERLAY_NETNS, names.map((n) => `${NETNS_PREFIX}${n}`), subnet);
  const nodes = underlay.map((u, i) => ({ name: names[i], netns: u.netns, ip: u.ip }));
  const state: State = { nodes, pods: [], procs: [] };
  saveState(state);
  mkdirSync(paths.ca, { recursive: true });
  const ca = makeCa(paths.ca, 'ca');
  for (const node of nodes) {
    const leaf = makeLeaf(paths.ca, node.name, ca, [`DNS:${node.name}`, `IP:${node.ip}`]);
    state.procs.push(startNsm(node.netns, node.name, 'forwarder', ['forwarder'], {
      ...baseEnv(logLevel), NSM_NAME: node.name, NSM_LISTEN_ON: `unix://${forwarderSocket(node.name)}`, NSM_REGISTRY_DIR: paths.registry,
      NSM_TLS_CA_FILE: ca.cert, NSM_TLS_CERT_FILE: leaf.cert, NSM_TLS_KEY_FILE: leaf.key,
      NSM_MEMIF_DIR: join(paths.nodeDir(node.name), 'memif'),
    }));
  }
  saveState(state);
  const until = Date.now() + 15_000;
  for (const [i, node] of nodes.entries()) {
    const proc = state.procs[i];
    while (!isSocket(forwarderSocket(node.name))) {
      if (!alive(proc) || Date.now() > until) {
        throw new NsmError('UNAVAILABLE', `the forwarder of ${node.name} did not start; its log ${proc.log}:\n${readFileSync(proc.log, 'utf8').trim()}`);
      }
      await sleep(50);
    }
    say(`node ${node.name} up: ${node.ip} on the underlay ${subnet}.0/24, forwarder on ${forwarderSocket(node.name)}, peering with mutual TLS on tcp://${node.ip}:5001`);
  }
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
  // Services first, then endpoints and other pods, clients (annotated pods) last.
  // A workload's clients are annotated on its pod template, which is what its pods get.
  const podAnnotations = (d: Record<string, any>) => (d.kind === 'Pod' ? d.metadata?.annotations : d.spec?.template?.metadata?.annotations);
  const order = (d: Record<string, any>) => (d.kind === 'NetworkService' ? 0 : podAnnotations(d)?.['networkservicemesh.io'] ? 2 : 1);
  docs.sort((a, b) => order(a) - order(b));
  const r = await apply(state, docs, baseEnv(logLevel), () => saveState(state), say);
  if (r.skipped.length > 0) say(`not run (the sandbox runs only nsm containers): ${r.skipped.join(', ')}`);
}

export interface Row {
  pod: string;
  node: string;
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
        pod: pod.name, node: pod.node ?? '', netns: pod.netns, ifname: file.slice(0, -5),
        address: c.context?.ipContext?.srcIpAddrs.join(',') ?? '', peer: c.context?.ipContext?.dstIpAddrs.join(',') ?? '',
        mechanism: c.context?.extraContext.tunnel ?? c.mechanism?.type ?? '', endpoint: c.networkServiceEndpointName,
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
  const nodeOfPod = new Map(state.pods.map((p) => [p.name, p.node ?? '']));
  say(table(['PROCESS', 'NODE', 'POD', 'CONTAINER', 'STATE'], state.procs.map((p) => [String(p.pid), nodeOfPod.get(p.pod) ?? p.pod, p.pod, p.container, alive(p) ? 'running' : 'exited'])));
  say('');
  const nodeOf = new Map(state.pods.map((p) => [p.name, p.node ?? '']));
  say(table(['POD', 'NODE', 'INTERFACE', 'ADDRESS', 'ENDPOINT ADDRESS', 'MECHANISM', 'ENDPOINT', 'ENDPOINT NODE'],
    connections(state).map((r) => [r.pod, r.node, r.ifname, r.address, r.peer, r.mechanism, r.endpoint, nodeOf.get(r.endpoint) ?? ''])));
  return state;
}

export function pingMatrix(state: State): string[][] {
  return connections(state).map((r) => {
    const to = r.peer.split(',')[0]?.split('/')[0] ?? '';
    const res = spawnSync('ip', ['netns', 'exec', r.netns, 'ping', '-c', '3', '-i', '0.2', '-W', '1', '-I', r.ifname, to], { encoding: 'utf8', timeout: 10_000 });
    const loss = /(\d+(?:\.\d+)?)% packet loss/.exec(res.stdout)?.[1] ?? '100';
    const rtt = /= [\d.]+\/([\d.]+)\//.exec(res.stdout)?.[1];
    return [r.pod, r.node, r.mechanism, `${r.ifname} -> ${to}`, res.status === 0 ? 'ok' : 'FAIL', `${loss}% loss`, rtt ? `${rtt} ms` : '-'];
  });
}
