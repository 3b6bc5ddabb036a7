import { setTimeout as sleep } from 'node:timers/promises';
import { NsmError } from '../sdk/errors.ts';
import { isSocket, type Say } from './lifecycle.ts';
import { connections, table, type Row } from './report.ts';
import { alive, forwarderSocket, ip, loadState, saveState, startNsm, stopProcs, type Proc, type State } from './state.ts';

/** What `kill` and `restart` act on: a pod by name, or a node as `node/NAME`. */
export type Target = { kind: 'pod'; name: string } | { kind: 'node'; name: string };

/** How long the report waits for clients to reach another endpoint after a kill, and watches them after a restart. */
const HEAL_WAIT_MS = 10_000;
const KEEP_WATCH_MS = 3000;

export function parseTarget(arg: string | undefined, state: State): Target {
  const nodes = (state.nodes ?? []).map((n) => n.name);
  if (arg?.startsWith('node/')) {
    const name = arg.slice('node/'.length);
    if (!nodes.includes(name)) throw new NsmError('NOT_FOUND', `${arg}: no such node (nodes: ${nodes.join(', ') || 'none'})`);
    return { kind: 'node', name };
  }
  if (!arg || !state.pods.some((p) => p.name === arg)) {
    throw new NsmError('NOT_FOUND', `${JSON.stringify(arg ?? '')}: name a pod (${state.pods.map((p) => p.name).join(', ') || 'none yet'}) or a node as node/NAME`);
  }
  return { kind: 'pod', name: arg };
}

function requireState(): State {
  const state = loadState();
  if (!state) throw new NsmError('FAILED_PRECONDITION', 'the sandbox is not up: run nsm sandbox up first');
  return state;
}

async function killProcs(procs: Proc[]): Promise<void> {
  const running = procs.filter(alive);
  for (const p of running) process.kill(p.pid, 'SIGKILL');
  const until = Date.now() + 5000;
  while (running.some(alive) && Date.now() < until) await sleep(20);
}

function startAgain(p: Proc): Proc {
  if (!p.netns || !p.args || !p.env) throw new NsmError('FAILED_PRECONDITION', `${p.pod}/${p.container} was started by an older nsm sandbox that did not record how; run nsm sandbox down and up again`);
  return startNsm(p.netns, p.pod, p.container, p.args, p.env);
}

const key = (r: Row) => `${r.pod}/${r.ifname}`;

/**
 * Watches the connections of the clients that used what was killed (until each reached another
 * endpoint, at most HEAL_WAIT_MS) or restarted (KEEP_WATCH_MS): says for each where it is, then
 * prints the connection table.
 */
async function reportHealing(before: Row[], affected: (r: Row) => boolean, since: number, killed: boolean, say: Say): Promise<void> {
  const watched = before.filter(affected);
  const settled = new Map<string, string>();
  const until = Date.now() + (killed ? HEAL_WAIT_MS : KEEP_WATCH_MS);
  while ((!killed || settled.size < watched.length) && Date.now() < until) {
    const now = new Map(connections(loadState()!).map((r) => [key(r), r]));
    for (const w of watched) {
      const r = now.get(key(w));
      if (settled.has(key(w)) || !r) continue;
      if (r.endpoint !== w.endpoint) settled.set(key(w), `reconnected to ${r.endpoint} after ${Date.now() - since} ms`);
    }
    await sleep(20);
  }
  const unchanged = (w: Row) => (killed ? `not reconnected after ${HEAL_WAIT_MS / 1000} s` : `kept ${w.endpoint}`);
  for (const w of watched) say(`${key(w)} (was on ${w.endpoint}): ${settled.get(key(w)) ?? unchanged(w)}`);
  const state = loadState()!;
  const nodeOf = new Map(state.pods.map((p) => [p.name, p.node ?? '']));
  say('');
  say(table(['POD', 'NODE', 'INTERFACE', 'ADDRESS', 'ENDPOINT', 'ENDPOINT NODE', 'MECHANISM'],
    connections(state).map((r) => [r.pod, r.node, r.ifname, r.address, r.endpoint, nodeOf.get(r.endpoint) ?? '', r.mechanism])));
}

/**
 * Deletes a pod as Kubernetes does when it dies (its processes killed, then its network namespace
 * removed), or a whole node (its forwarder and every pod on it, then the node's namespace), and
 * reports how the clients that used them heal.
 */
export async function kill(arg: string | undefined, say: Say): Promise<void> {
  const state = requireState();
  const target = parseTarget(arg, state);
  const pods = state.pods.filter((p) => (target.kind === 'pod' ? p.name === target.name : p.node === target.name));
  const gone = new Set(pods.map((p) => p.name));
  const procs = state.procs.filter((p) => gone.has(p.pod) || (target.kind === 'node' && p.container === 'forwarder' && p.pod === target.name));
  const before = connections(state);
  const started = Date.now();
  await killProcs(procs);
  for (const p of pods) ip(['netns', 'del', p.netns]);
  const node = target.kind === 'node' ? state.nodes?.find((n) => n.name === target.name) : undefined;
  if (node) ip(['netns', 'del', node.netns]);
  state.pods = state.pods.filter((p) => !gone.has(p.name));
  state.procs = state.procs.filter((p) => !procs.includes(p));
  if (node) state.nodes = state.nodes?.filter((n) => n !== node);
  saveState(state);
  say(`${target.kind === 'node' ? `node/${target.name} and its pods` : `pod/${target.name}`} killed (${procs.length} processes, ${pods.length + (node ? 1 : 0)} network namespaces removed)`);
  await reportHealing(before, (r) => gone.has(r.endpoint) && !gone.has(r.pod), started, true, say);
}

/**
 * A crash and restart: a pod's processes are killed and started again in the same pod (its
 * network namespace and interfaces stay); for node/NAME the node's forwarder is stopped and
 * started again (its pods keep running). Reports what its clients keep.
 */
export async function restart(arg: string | undefined, say: Say): Promise<void> {
  const state = requireState();
  const target = parseTarget(arg, state);
  const procs = state.procs.filter((p) => (target.kind === 'pod' ? p.pod === target.name : p.container === 'forwarder' && p.pod === target.name));
  const before = connections(state);
  const started = Date.now();
  if (target.kind === 'node') await stopProcs(procs);
  else await killProcs(procs);
  const again = procs.map(startAgain);
  state.procs = [...state.procs.filter((p) => !procs.includes(p)), ...again];
  saveState(state);
  if (target.kind === 'node') {
    const until = Date.now() + 15_000;
    while (!isSocket(forwarderSocket(target.name)) && Date.now() < until) await sleep(50);
  }
  say(`${target.kind === 'node' ? `the forwarder of node/${target.name}` : `pod/${target.name}`} restarted (${again.map((p) => `${p.container} pid ${p.pid}`).join(', ')})`);
  const affected = (r: Row) => (target.kind === 'pod' ? r.endpoint === target.name : r.node === target.name || state.pods.some((p) => p.name === r.endpoint && p.node === target.name));
  await reportHealing(before, affected, started, false, say);
}

