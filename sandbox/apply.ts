import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { Payload, type RegistryNetworkService } from '../proto/api.ts';
import { NsmError } from '../sdk/errors.ts';
import { grpcTarget, parseAddress } from '../sdk/grpc/address.ts';
import { openDirRegistry } from '../sdk/registry/dir-backend.ts';
import { serviceFromSpec } from '../sdk/registry/k8s-spec.ts';
import { parseDocuments } from '../webhook/workload-documents.ts';
import { isSelector, selects, type LabelSelector } from './label-selector.ts';
import { upstreamImage } from './upstream-images.ts';
import { storeConfigMap, projectConfigMaps } from './config-maps.ts';
import { awaitInit } from './pod-progress.ts';
import { injectAsWebhook } from './webhook-injection.ts';
import { deviceEnv } from './device-pools.ts';
import { asManifest, containersOf, podsOf, type Container, type Manifest, type Pod } from './workload.ts';
import { isObject } from '../webhook/json-patch.ts';
import { alive, forwarderSocket, ip, NETNS_PREFIX, NODE, paths, runNsm, startNsm, type Proc, type SandboxPod, type State } from './state.ts';
import { downwardVolumesOf, projectDownwardVolumes } from './downward-volumes.ts';

export { podsOf } from './workload.ts';

/** A folder stands for its YAML files in name order, its kustomization.yaml left out (as `kubectl apply -f DIR`). */
const filesOf = (f: string) => (f !== '-' && statSync(f).isDirectory()
  ? readdirSync(f).filter((n) => /\.ya?ml$/.test(n) && !/^kustomization\.ya?ml$/.test(n)).sort().map((n) => join(f, n))
  : [f]);

/** Every object of the files and folders (`-` is standard input), with `nsm inject`'s reader: a malformed document names its file. */
export function readManifests(files: string[]): Manifest[] {
  return files.flatMap(filesOf).flatMap((f) => {
    const where = f === '-' ? 'standard input' : f;
    const docs = parseDocuments(readFileSync(f === '-' ? 0 : f, 'utf8'), where);
    return docs.flatMap((d, i) => (isObject(d) ? [asManifest(d, `${where}, document ${i + 1}`)] : []));
  });
}

/** A NetworkService object (snake_case spec as in the CRD) as the registry type; no payload means IP, as in the registry. */
export function networkServiceOf(doc: Manifest): RegistryNetworkService {
  const ns = serviceFromSpec(doc.metadata?.name ?? '', doc.spec);
  return { ...ns, payload: ns.payload || Payload.IP };
}

/** The nsm arguments of a container whose command is the nsm CLI; undefined for any other container. */
export function nsmArgs(container: Container): string[] | undefined {
  const argv = [...(container.command ?? []), ...(container.args ?? [])].map(String);
  if (argv[0] === 'nsm' || argv[0]?.endsWith('/nsm')) return argv.slice(1);
  if (argv[0] === 'node' && argv[1]?.endsWith('bin/nsm.ts')) return argv.slice(2);
  return undefined;
}

/** What the sandbox runs for a container: its nsm command, or the nsm equivalent of an upstream image (with a line saying so). */
export function sandboxCommand(pod: string, container: Container): { args: string[]; note?: string } | undefined {
  const own = nsmArgs(container);
  if (own) return { args: own };
  const upstream = upstreamImage(container.image);
  if (!upstream) return undefined;
  return { args: [...upstream.args], note: `pod/${pod}: container ${container.name} (upstream image ${container.image}) runs as nsm ${upstream.args.join(' ')} with its own env` };
}

/**
 * Whether a document's pods are clients: annotated for the webhook (a workload's clients are
 * annotated on its pod template, which is what its pods get), or running a client themselves
 * (`nsm nsc`, or upstream's cmd-nsc and cmd-nsc-init).
 */
export function isClient(doc: Manifest): boolean {
  return podsOf(doc).some((pod) => {
    if (pod.metadata.annotations?.['networkservicemesh.io']) return true;
    return containersOf(pod).some((c) => sandboxCommand(pod.metadata.name, c)?.args[0] === 'nsc');
  });
}

/**
 * Where the container's volume mounts live on this host: the nsm-socket hostPath is the sandbox
 * node's directory, an emptyDir, a ConfigMap or a downwardAPI volume is a directory of the pod. Longest mount path first.
 */
function mountedDirs(pod: Pod, container: Container, node: string): Array<[string, string]> {
  const name = pod.metadata.name;
  const volumes = new Map((pod.spec.volumes ?? []).map((v) => [v.name, v]));
  const out: Array<[string, string]> = [['/var/lib/networkservicemesh', paths.nodeDir(node)]];
  for (const m of container.volumeMounts ?? []) {
    const v = volumes.get(m.name);
    if (v?.emptyDir || v?.configMap || v?.downwardAPI) out.push([m.mountPath, join(paths.pod(name), 'volumes', m.name)]);
  }
  return out.sort((a, b) => b[0].length - a[0].length);
}

/**
 * The container's env as kubelet would give it (values, downward-API fields, `$(VAR)`), with the
 * nsm-socket hostPath mapped to the sandbox node's directory and per-pod defaults.
 */
export function containerEnv(pod: Pod, container: Container, node = NODE): Record<string, string> {
  const name = pod.metadata.name;
  const env: Record<string, string> = {};
  const fields: Record<string, string> = { 'metadata.name': name, 'metadata.namespace': pod.metadata.namespace ?? 'default', 'spec.nodeName': node };
  for (const e of container.env ?? []) {
    const raw = e.valueFrom?.fieldRef ? fields[e.valueFrom.fieldRef.fieldPath] ?? '' : String(e.value ?? '');
    env[e.name] = raw.replace(/\$\((\w+)\)/g, (m: string, v: string) => env[v] ?? m);
  }
  const mounts = mountedDirs(pod, container, node);
  for (const [k, v] of Object.entries(env)) {
    const mount = mounts.find(([at]) => v === at || v.startsWith(`${at}/`) || v.startsWith(`unix://${at}/`));
    if (mount) env[k] = v.replace(mount[0], mount[1]);
  }
  env.NSM_CONNECT_TO ??= `unix://${forwarderSocket(node)}`;
  env.NSM_LISTEN_ON ??= `unix://${join(paths.nodeDir(node), 'endpoints', `${env.NSM_NAME || name}.sock`)}`;
  env.NSM_CONNECTIONS_DIR ??= join(paths.pod(name), 'connections');
  // A client whose pod has no volume for it (an upstream image) serves its API in its pod's directory.
  if (sandboxCommand(name, container)?.args.slice(0, 2).join(' ') === 'nsc run') env.NSM_CLIENT_API ??= `unix://${join(paths.pod(name), 'nsc.sock')}`;
  env.NSM_NAME ??= name;
  // On one host an endpoint answers within seconds; a client that waits a minute waits for
  // something that is not coming, and apply then fails with what it waited for.
  env.NSM_INIT_TIMEOUT ??= '1m';
  return env;
}

/** The label selectors of the pod's required podAffinity or podAntiAffinity terms (the scheduling rules the sandbox reads). */
function affinitySelectors(pod: Pod, kind: 'podAffinity' | 'podAntiAffinity'): LabelSelector[] {
  const terms: unknown = pod.spec.affinity?.[kind]?.requiredDuringSchedulingIgnoredDuringExecution;
  return Array.isArray(terms) ? terms.map((t: unknown) => (isObject(t) ? t.labelSelector : undefined)).filter((s): s is LabelSelector => isSelector(s)) : [];
}

/**
 * The node a pod runs on: `spec.nodeName` when it names a sandbox node; else the node of an
 * already running pod that its required podAffinity selects; else the next node in round robin
 * that runs no pod its required podAntiAffinity selects.
 */
export function placePod(state: State, pod: Pod): string {
  const nodes = (state.nodes ?? [{ name: NODE }]).map((n) => n.name);
  const wanted = pod.spec.nodeName;
  if (typeof wanted === 'string' && wanted !== '') {
    if (!nodes.includes(wanted)) throw new NsmError('INVALID_ARGUMENT', `pod ${pod.metadata.name}: spec.nodeName ${wanted} is not a sandbox node (${nodes.join(', ')}); start more with nsm sandbox up --nodes N`);
    return wanted;
  }
  for (const selector of affinitySelectors(pod, 'podAffinity')) {
    const peer = state.pods.find((p) => p.node && selects(selector, p.labels ?? {}));
    if (peer?.node) return peer.node;
    throw new NsmError('FAILED_PRECONDITION', `pod ${pod.metadata.name}: its podAffinity selects ${JSON.stringify(selector)}, and no pod with those labels runs yet; apply that pod first`);
  }
  const avoided = new Set(affinitySelectors(pod, 'podAntiAffinity').flatMap((selector) => state.pods.filter((p) => p.node && selects(selector, p.labels ?? {})).map((p) => p.node)));
  const start = state.placed ?? 0;
  for (let k = 0; k < nodes.length; k++) {
    const node = nodes[(start + k) % nodes.length];
    if (avoided.has(node)) continue;
    state.placed = start + k + 1;
    return node;
  }
  throw new NsmError('FAILED_PRECONDITION', `pod ${pod.metadata.name}: its podAntiAffinity rules out every node (${nodes.join(', ')}); start more with nsm sandbox up --nodes N`);
}

export interface ApplyResult {
  pods: string[];
  skipped: string[];
}

/**
 * Records a pod in the state (its client's connections directory, its metadata, its downward API
 * volumes), saved before its volumes are written as the kubelet would (so `down` finds it if that fails).
 */
function recordPod(state: State, pod: Pod, netns: string, node: string, client: Container | undefined, save: () => void): SandboxPod {
  const name = pod.metadata.name;
  const connectionsDir = client ? containerEnv(pod, client, node).NSM_CONNECTIONS_DIR : undefined;
  const meta = { name, namespace: pod.metadata.namespace ?? 'default', labels: pod.metadata.labels ?? {}, annotations: pod.metadata.annotations ?? {} };
  const downward = downwardVolumesOf(pod, (v) => join(paths.pod(name), 'volumes', v));
  const recorded: SandboxPod = { name, netns, node, labels: meta.labels, namespace: meta.namespace, annotations: meta.annotations, downward, envs: {}, ...(connectionsDir ? { connectionsDir } : {}) };
  state.pods.push(recorded);
  mkdirSync(paths.pod(name), { recursive: true });
  save();
  projectConfigMaps(pod);
  projectDownwardVolumes(meta, downward);
  return recorded;
}

/** Creates a pod's namespace on the node it is placed on (returned), runs its init containers to completion and starts its other containers. */
async function startPod(state: State, pod: Pod, baseEnv: NodeJS.ProcessEnv, save: () => void, say: (s: string) => void, result: ApplyResult, started: Proc[]): Promise<string> {
  const name = pod.metadata.name;
  if (state.pods.some((p) => p.name === name)) throw new NsmError('ALREADY_EXISTS', `pod ${name} already exists in the sandbox; run nsm sandbox down first`);
  const node = placePod(state, pod);
  const netns = `${NETNS_PREFIX}${name}`.slice(0, 60);
  const made = ip(['netns', 'add', netns]);
  if (!made.ok) throw new NsmError('INTERNAL', `cannot create network namespace ${netns}: ${made.err}`);
  ip(['-n', netns, 'link', 'set', 'lo', 'up']);
  const commands = new Map<Container, string[]>();
  for (const c of containersOf(pod)) {
    const command = sandboxCommand(name, c);
    if (!command) continue;
    commands.set(c, command.args);
    if (command.note) say(command.note);
  }
  const sandboxPod = recordPod(state, pod, netns, node, [...commands].find(([, args]) => args[0] === 'nsc')?.[0], save);
  for (const c of pod.spec.initContainers ?? []) {
    const args = commands.get(c);
    if (!args) {
      result.skipped.push(`${name}/${c.name}`);
      continue;
    }
    const run = runNsm(netns, name, c.name, args, { ...baseEnv, ...containerEnv(pod, c, node), ...await deviceEnv(state, pod, c, node) }, 6 * 60_000);
    // What this apply started counts even once it has exited: a client waiting for it says why.
    const r = await awaitInit(name, c.name, run, run.log, state.procs.filter((p) => alive(p) || started.includes(p)), say);
    if (r.code !== 0) throw new NsmError('FAILED_PRECONDITION', `pod ${name}: init container ${c.name} failed (exit ${r.code}); see ${r.log}:\n${readFileSync(r.log, 'utf8').split('\n').filter((l) => !l.startsWith('{')).join('\n').trim()}`);
  }
  for (const c of pod.spec.containers ?? []) {
    const args = commands.get(c);
    if (!args) {
      result.skipped.push(`${name}/${c.name}`);
      continue;
    }
    const env = { ...containerEnv(pod, c, node), ...await deviceEnv(state, pod, c, node) };
    sandboxPod.envs![c.name] = env;
    const proc = startNsm(netns, name, c.name, args, { ...baseEnv, ...env });
    state.procs.push(proc);
    started.push(proc);
    save();
    if (env.NSM_METRICS_LISTEN_ON) say(`pod/${name} ${c.name}: metrics: ip netns exec ${netns} curl http://${grpcTarget(parseAddress(env.NSM_METRICS_LISTEN_ON))}/metrics`);
    if (args[0] === 'nse') await awaitRegistration(env.NSM_NAME || name, proc);
  }
  return node;
}

const REGISTRATION_WAIT_MS = 15_000;

/**
 * An endpoint container counts as started once it has registered (what a readiness probe would
 * gate), so clients applied after it in the same files find it: a client of a bridge domain then
 * reaches the bridge on its own node rather than whichever one registered first. One that exits
 * first is not waited for: the clients that wait for it say why.
 */
async function awaitRegistration(endpoint: string, proc: Proc): Promise<void> {
  const file = join(paths.registry, 'networkserviceendpoints', `${endpoint}.json`);
  const until = Date.now() + REGISTRATION_WAIT_MS;
  while (!existsSync(file) && alive(proc) && Date.now() < until) await sleep(50);
}

/** Applies NetworkServices first, then pods in file order: creates the pod namespace, runs its init containers, starts its nsm containers. */
export async function apply(state: State, docs: Manifest[], baseEnv: NodeJS.ProcessEnv, save: () => void, say: (s: string) => void): Promise<ApplyResult> {
  const registry = await openDirRegistry(paths.registry);
  for (const doc of docs.filter((d) => d.kind === 'NetworkService')) {
    await registry.services.put(networkServiceOf(doc));
    say(`networkservice/${doc.metadata?.name ?? ''} created`);
  }
  await registry.close();
  for (const doc of docs.filter((d) => d.kind === 'ConfigMap')) {
    storeConfigMap(doc);
    say(`configmap/${doc.metadata?.name ?? ''} created`);
  }
  const result: ApplyResult = { pods: [], skipped: [] };
  const started: Proc[] = [];
  for (const pod of docs.flatMap(podsOf).map(injectAsWebhook)) {
    const node = await startPod(state, pod, baseEnv, save, say, result, started);
    result.pods.push(pod.metadata.name);
    say(`pod/${pod.metadata.name} created on ${node}`);
  }
  return result;
}
