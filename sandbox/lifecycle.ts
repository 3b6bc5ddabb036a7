import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FORWARDER_NODE_OPTIONS } from '../forwarder/node-options.ts';
import { NsmError } from '../sdk/errors.ts';
import { apply, isClient, readManifests } from './apply.ts';
import type { Manifest } from './workload.ts';
import { makeCa, makeLeaf } from './certs.ts';
import { requireHost } from './host-checks.ts';
import { forwarderSocket, ip, loadState, NETNS_PREFIX, nodeName, paths, saveState, startNsm, STATE_DIR, stopProcs, alive, UNDERLAY_NETNS, type SandboxNode, type SandboxPool, type State } from './state.ts';
import { attachDevice, buildUnderlay, DEVICE_SUBNET, freeSubnet } from './topology.ts';
import { buildNodePools, poolEnv, type PoolSpec } from './device-pools.ts';


/** Where each sandbox forwarder serves its metrics, on its node's underlay address. */
const FORWARDER_METRICS_PORT = 9091;
export type Say = (line: string) => void;

/** What every process of the sandbox starts with; the namespace prefix lets a hook find a device's namespace. */
function baseEnv(logLevel: string): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, NSM_LOG_LEVEL: logLevel, NSM_SANDBOX_NETNS_PREFIX: NETNS_PREFIX };
}

const DEVICE_NAME = /^[a-z][a-z0-9-]{0,30}$/;

function checkDevices(devices: readonly string[], nodes: readonly string[]): void {
  for (const [i, d] of devices.entries()) {
    if (!DEVICE_NAME.test(d)) throw new NsmError('INVALID_ARGUMENT', `--external ${JSON.stringify(d)}: name a device with lower-case letters, digits and -, starting with a letter (such as router1)`);
    if (nodes.includes(d) || devices.indexOf(d) !== i) throw new NsmError('INVALID_ARGUMENT', `--external ${d}: that name is taken (by a node or another device)`);
  }
}

/** Stops what an earlier run left (processes by recorded pid, namespaces with our prefix) and removes the state directory. */
export async function down(say: Say): Promise<void> {
  await requireHost({});
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

/** Pool devices on every node, and each node's kubelet: the forwarder registers its pools with it, apply asks it to admit pods. */
function startPools(state: State, nodes: readonly SandboxNode[], specs: readonly PoolSpec[], logLevel: string): SandboxPool[] {
  const subnets: string[] = [];
  const pools = nodes.flatMap((node) => buildNodePools(node, specs, subnets));
  for (const node of specs.length > 0 ? nodes : []) {
    state.procs.push(startNsm(node.netns, node.name, 'kubelet', ['sandbox', 'kubelet', node.name], { ...baseEnv(logLevel), NSM_SANDBOX_DIR: STATE_DIR, NSM_SANDBOX_NETNS_PREFIX: NETNS_PREFIX }));
  }
  return pools;
}

/** What `up` adds beside the nodes: devices outside the cluster (`--external`) and pool devices on each node (`--pool`). */
export interface UpExtras {
  devices?: readonly string[];
  pools?: readonly PoolSpec[];
}

export async function up(logLevel: string, say: Say, nodeCount = 1, extras: UpExtras = {}): Promise<State> {
  const { devices: deviceNames = [], pools: poolSpecs = [] } = extras;
  if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > 16) throw new NsmError('INVALID_ARGUMENT', `--nodes ${nodeCount}: give a whole number from 1 to 16`);
  const names = Array.from({ length: nodeCount }, (_, i) => nodeName(i));
  checkDevices(deviceNames, names);
  await requireHost({ buildsNodes: true, nodes: nodeCount + deviceNames.length });
  if (existsSync(STATE_DIR) || ip(['netns', 'list']).out.includes(NETNS_PREFIX)) await down(say);
  for (const n of [...names, ...deviceNames]) {
    const made = ip(['netns', 'add', `${NETNS_PREFIX}${n}`]);
    if (!made.ok) throw new NsmError('INTERNAL', `cannot create network namespace ${NETNS_PREFIX}${n}: ${made.err}`);
  }
  const subnet = freeSubnet();
  const underlay = buildUnderlay(UNDERLAY_NETNS, names.map((n) => `${NETNS_PREFIX}${n}`), subnet);
  const nodes = underlay.map((u, i) => ({ name: names[i], netns: u.netns, ip: u.ip }));
  const devices = deviceNames.map((name, i) => ({ name, ...attachDevice(UNDERLAY_NETNS, `${NETNS_PREFIX}${name}`, i) }));
  const state: State = { nodes, devices, pods: [], procs: [] };
  saveState(state);
  const pools = startPools(state, nodes, poolSpecs, logLevel);
  state.pools = pools;
  saveState(state);
  mkdirSync(paths.ca, { recursive: true });
  const ca = makeCa(paths.ca, 'ca');
  for (const node of nodes) {
    const leaf = makeLeaf(paths.ca, node.name, ca, [`DNS:${node.name}`, `IP:${node.ip}`]);
    // Named after the sandbox's prefix: a forwarder adopts and expires the links its name owns in
    // every namespace of the host, so two sandboxes (a user's and a test's) never touch each other's.
    state.procs.push(startNsm(node.netns, node.name, 'forwarder', ['forwarder'], {
      ...baseEnv(logLevel),
      NSM_NAME: `${NETNS_PREFIX}${node.name}`, NSM_LISTEN_ON: `unix://${forwarderSocket(node.name)}`, NSM_REGISTRY_DIR: paths.registry,
      NSM_TLS_CA_FILE: ca.cert, NSM_TLS_CERT_FILE: leaf.cert, NSM_TLS_KEY_FILE: leaf.key,
      NSM_MEMIF_DIR: join(paths.nodeDir(node.name), 'memif'),
      NSM_METRICS_LISTEN_ON: `${node.ip}:${FORWARDER_METRICS_PORT}`,
      NODE_OPTIONS: FORWARDER_NODE_OPTIONS,
      ...poolEnv(node.name, pools),
      NSM_EXTERNAL_DEVICE_CIDRS: `${DEVICE_SUBNET}.0/24`,
    }));
  }
  saveState(state);
  const until = Date.now() + 15_000;
  for (const node of nodes) {
    const proc = state.procs.find((p) => p.pod === node.name && p.container === 'forwarder')!;
    while (!isSocket(forwarderSocket(node.name))) {
      if (!alive(proc) || Date.now() > until) {
        throw new NsmError('UNAVAILABLE', `the forwarder of ${node.name} did not start; its log ${proc.log}:\n${readFileSync(proc.log, 'utf8').trim()}`);
      }
      await sleep(50);
    }
    say(`node ${node.name} up: ${node.ip} on the underlay ${subnet}.0/24, forwarder on ${forwarderSocket(node.name)}, peering with mutual TLS on tcp://${node.ip}:5001, metrics: ip netns exec ${node.netns} curl http://${node.ip}:${FORWARDER_METRICS_PORT}/metrics`);
    for (const p of pools.filter((x) => x.node === node.name)) {
      say(`pool ${p.resource} on ${node.name}: ${p.devices.join(', ')} for network service ${p.service}, the network ${p.cidr} behind them (gateway ${p.gateway})`);
    }
  }
  for (const d of devices) say(`device ${d.name} up: ${d.ip} on the underlay, outside the cluster (namespace ${d.netns}, no forwarder)`);
  return state;
}

export function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket();
  } catch {
    return false;
  }
}

export async function applyFiles(files: string[], logLevel: string, say: Say): Promise<void> {
  await requireHost({});
  const state = loadState();
  if (!state) throw new NsmError('FAILED_PRECONDITION', 'the sandbox is not up: run nsm sandbox up first');
  const docs = readManifests(files);
  // Services and ConfigMaps first, then endpoints and other pods, clients last (so their endpoints run first).
  const order = (d: Manifest) => (d.kind === 'NetworkService' || d.kind === 'ConfigMap' ? 0 : isClient(d) ? 2 : 1);
  docs.sort((a, b) => order(a) - order(b));
  const r = await apply(state, docs, baseEnv(logLevel), () => saveState(state), say);
  if (r.skipped.length > 0) say(`not run (the sandbox runs only nsm containers): ${r.skipped.join(', ')}`);
}
