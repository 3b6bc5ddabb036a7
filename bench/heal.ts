/**
 * Healing, row by row of the healing table: each event made ROUNDS times while a client pings its
 * endpoint every 10 ms, timed from the event to the first reply through the new path, with the
 * packets lost; beside it a fresh connection setup (Request to first reply, same node and across
 * nodes) measured in the same run, and the ratio of the two.
 *
 * Everything runs in network namespaces of its own (a mesh of node namespaces on an underlay
 * bridge, pods as namespaces, the real `nsm` binaries); connections live the default 10 minutes,
 * so what heals within a round heals by events, not refreshes. Before each event the forwarders'
 * kernel sessions are left idle for 2.5 s (a session holds its namespace open for 2 s after its
 * last change, which would keep a deleted pod's namespace alive that long).
 *
 * Root only. Usage: npm run bench:heal [-- ROUNDS]   (default 10)
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startMesh, type Mesh } from '../test/fixtures/mesh.ts';
import { addNetns, addresses, ip, link, ROOT, spawnNsm, stopNsm, tempDir, uniquePrefix, waitFor, type NsmProcess, type T } from '../test/fixtures/netns.ts';
import { pingFlow, type PingFlow } from '../test/fixtures/ping-flow.ts';

const ROUNDS = Number(process.argv[2] ?? 10);
const IDLE_MS = 2500;
const p = uniquePrefix('bh');
const teardowns: Array<() => unknown> = [];
const t: T = { teardown: (fn) => void teardowns.push(fn) };

interface Row {
  event: string;
  expected: string;
  /** Event to first reply through the new path, ms (undefined for rows whose path does not change). */
  heal: number[];
  lost: number[];
  /** Longest time without a reply, ms. */
  gap: number[];
  /** Which fresh setup the heal compares with. */
  baseline?: 'local' | 'remote';
  note?: string;
}

/** A ping flow that has replied for a while: what an event is measured against. */
async function steadyFlow(ns: string, peer: string): Promise<PingFlow> {
  const flow = pingFlow(t, ns, peer);
  await waitFor('pings', () => flow.replies.length > 10);
  return flow;
}

/** The packets `row`'s event cost between `at` and `end`: lost, and the longest time without a reply. */
function record(row: Row, flow: PingFlow, at: number, end: number): void {
  row.lost.push(lostBetween(flow, at, end));
  row.gap.push(longestGap(flow, at, end));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const worst = (xs: number[]) => Math.max(...xs);
const say = (line: string) => void process.stdout.write(`${line}\n`);

function longestGap(flow: PingFlow, from: number, to: number): number {
  const at = flow.replies.map((r) => r.at).filter((a) => a >= from - 1000 && a <= to);
  let gap = 0;
  for (let i = 1; i < at.length; i++) gap = Math.max(gap, at[i] - at[i - 1]);
  return gap;
}

/** Lost echo requests between the last reply before `from` and the last reply up to `to`. */
function lostBetween(flow: PingFlow, from: number, to: number): number {
  const seqs = flow.replies.filter((r) => r.at >= from - 1000 && r.at <= to).map((r) => r.seq);
  return seqs.length === 0 ? 0 : Math.max(...seqs) - Math.min(...seqs) + 1 - new Set(seqs).size;
}

const registered = (mesh: Mesh, name: string) => { try { return statSync(join(mesh.dir, 'registry/networkserviceendpoints', `${name}.json`)).isFile(); } catch { return false; } };

interface Endpoint { name: string; ns: string; node: number; proc: NsmProcess }

function endpointStarter(mesh: Mesh) {
  return async (name: string, node: number, service: string, cidr: string, ns = addNetns(t, `${p}-${name}`)): Promise<Endpoint> => {
    const proc = spawnNsm(t, ns, ['nse'], {
      NSM_NAME: name, NSM_SERVICE_NAMES: service, NSM_CIDR_PREFIX: cidr, NSM_CONNECT_TO: `unix://${mesh.nodes[node].socket}`,
      NSM_LISTEN_ON: `unix://${join(mesh.dir, `${name}.sock`)}`, NSM_LOG_LEVEL: 'info', NSM_DIAL_TIMEOUT: '1s',
    });
    await waitFor(`endpoint ${name}`, () => registered(mesh, name) && proc.output().includes('endpoint registered'), 20_000);
    return { name, ns, node, proc };
  };
}

async function kill(proc: NsmProcess): Promise<void> {
  proc.child.kill('SIGKILL');
  await proc.exited;
}

/** A client pod keeping `service` with nsc run, after nsc init. */
async function keptClient(mesh: Mesh, name: string, node: number, service: string) {
  const ns = addNetns(t, `${p}-${name}`);
  ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  const env = { NSM_NAME: name, NSM_NETWORK_SERVICES: `kernel://${service}/nsm-1`, NSM_CONNECT_TO: `unix://${mesh.nodes[node].socket}`, NSM_CONNECTIONS_DIR: join(mesh.dir, 'conns', name), NSM_INIT_TIMEOUT: '20s' };
  const init = await mesh.init(node, ns, name, service, env);
  if (init.code !== 0) throw new Error(`${name} did not connect: ${init.output}`);
  const run = spawnNsm(t, ns, ['nsc', 'run'], { ...env, NSM_LOG_LEVEL: 'info' });
  const saved = () => mesh.connection(name) as unknown as { networkServiceEndpointName: string; context: { ipContext: { dstIpAddrs: string[] } } };
  return { ns, run, endpoint: () => saved().networkServiceEndpointName, peer: () => saved().context.ipContext.dstIpAddrs[0].split('/')[0] };
}

/** The fresh-setup baseline client (bench/heal-client.ts) in a pod of its own. */
async function freshClient(mesh: Mesh) {
  const ns = addNetns(t, `${p}-fresh`);
  ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, join(ROOT, 'bench/heal-client.ts')], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => child.kill('SIGKILL'));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return async (service: string, node = 0): Promise<{ ms: number; error?: string }> => {
    child.stdin.write(`${JSON.stringify({ forwarder: `unix://${mesh.nodes[node].socket}`, service })}\n`);
    return JSON.parse((await lines.next()).value as string) as { ms: number; error?: string };
  };
}

async function meshRows(rows: Row[], fresh: { local: number[]; remote: number[] }): Promise<void> {
  const mesh = await startMesh(t, p, 3, '10.250.209', { NSM_LOG_LEVEL: 'info' });
  const start = endpointStarter(mesh);
  await start('fresh-l', 0, 'fresh-local', '10.90.0.0/24');
  await start('fresh-r', 1, 'fresh-remote', '10.90.1.0/24');
  const setup = await freshClient(mesh);
  for (const [service, into] of [['fresh-local', fresh.local], ['fresh-remote', fresh.remote]] as const) {
    await setup(service); // warm-up
    for (let i = 0; i < ROUNDS; i++) {
      const r = await setup(service);
      if (r.error) throw new Error(`fresh setup of ${service}: ${r.error}`);
      into.push(r.ms);
    }
  }

  const local = new Map<string, Endpoint>();
  let made = 0;
  const addLocal = async () => {
    const e = await start(`ep-l${++made}`, 0, 'local', '10.91.0.0/29');
    local.set(e.name, e);
  };
  await addLocal();
  const cl = await keptClient(mesh, 'cl', 0, 'local');
  await addLocal();

  const restart: Row = { event: 'forwarder restart (same node)', expected: 'no packet lost; connections adopted', heal: [], lost: [], gap: [] };
  for (let i = 0; i < ROUNDS; i++) {
    const flow = await steadyFlow(cl.ns, cl.peer());
    const at = Date.now();
    await stopNsm(mesh.nodes[0].forwarder);
    const fwd = await mesh.startForwarder(0, { NSM_LOG_LEVEL: 'info' });
    await waitFor('the adoption', () => fwd.output().includes('adopted the interfaces of a previous forwarder'), 20_000);
    await sleep(500);
    const end = Date.now();
    await flow.stop();
    record(restart, flow, at, end);
  }
  rows.push(restart);

  const crash: Row = { event: 'endpoint process crash and restart (same pod)', expected: 'interfaces and addresses kept; no reselect', heal: [], lost: [], gap: [] };
  let kept = 0;
  for (let i = 0; i < ROUNDS; i++) {
    await sleep(IDLE_MS);
    const e = local.get(cl.endpoint())!;
    const before = { ifindex: link(cl.ns, 'nsm-1')?.ifindex, addresses: addresses(cl.ns, 'nsm-1') };
    const flow = await steadyFlow(cl.ns, cl.peer());
    const at = Date.now();
    await kill(e.proc);
    local.set(e.name, await start(e.name, 0, 'local', '10.91.0.0/29', e.ns));
    await sleep(1000);
    const end = Date.now();
    await flow.stop();
    record(crash, flow, at, end);
    if (cl.endpoint() === e.name && link(cl.ns, 'nsm-1')?.ifindex === before.ifindex && JSON.stringify(addresses(cl.ns, 'nsm-1')) === JSON.stringify(before.addresses)) kept++;
  }
  crash.note = `interface, addresses and endpoint kept in ${kept} of ${ROUNDS}`;
  rows.push(crash);

  const deleted: Row = { event: 'endpoint pod deleted, another endpoint available', expected: 'connected to the other in < 2 s', heal: [], lost: [], gap: [], baseline: 'local' };
  for (let i = 0; i < ROUNDS; i++) {
    await sleep(IDLE_MS);
    const e = local.get(cl.endpoint())!;
    const flow = await steadyFlow(cl.ns, cl.peer());
    const at = Date.now();
    await kill(e.proc);
    ip(['netns', 'del', e.ns]);
    const gone = Date.now();
    local.delete(e.name);
    const first = await waitFor('a reply through the other endpoint', () => flow.firstReplyAfter(gone), 20_000);
    await flow.stop();
    deleted.heal.push(first.at - at);
    record(deleted, flow, at, first.at);
    await addLocal();
  }
  rows.push(deleted);

  const alone: Row = { event: 'no endpoint left, then one registers', expected: 'keeps trying with backoff, says so, connects as soon as one registers', heal: [], lost: [], gap: [], baseline: 'local' };
  let said = 0;
  for (let i = 0; i < ROUNDS; i++) {
    await sleep(IDLE_MS);
    const logged = (cl.run.output().match(/no endpoint of the network service can be reached/g) ?? []).length;
    for (const e of [...local.values()]) {
      await kill(e.proc);
      ip(['netns', 'del', e.ns]);
      local.delete(e.name);
    }
    await waitFor('the client saying so', () => (cl.run.output().match(/no endpoint of the network service can be reached/g) ?? []).length > logged, 20_000).then(() => said++, () => {});
    await sleep(1000 + (i % 3) * 700); // into the client's backoff
    const flow = pingFlow(t, cl.ns, '10.91.0.1');
    const name = `ep-l${++made}`;
    const ns = addNetns(t, `${p}-${name}`);
    const proc = spawnNsm(t, ns, ['nse'], {
      NSM_NAME: name, NSM_SERVICE_NAMES: 'local', NSM_CIDR_PREFIX: '10.91.0.0/29', NSM_CONNECT_TO: `unix://${mesh.nodes[0].socket}`,
      NSM_LISTEN_ON: `unix://${join(mesh.dir, `${name}.sock`)}`, NSM_LOG_LEVEL: 'info',
    });
    const at = await waitFor('the registration', () => registered(mesh, name) && Date.now(), 20_000);
    local.set(name, { name, ns, node: 0, proc });
    const first = await waitFor('a reply', () => flow.firstReplyAfter(at), 20_000);
    await flow.stop();
    alone.heal.push(first.at - at);
    await addLocal();
  }
  alone.note = `measured from the new endpoint's registration; "no endpoint" logged in ${said} of ${ROUNDS}`;
  rows.push(alone);

  // Across nodes: the client on node1, endpoints of `remote` on the other nodes, one each.
  const remote = new Map<string, Endpoint>();
  for (const node of [1, 2]) {
    const e = await start(`ep-r${node + 1}`, node, 'remote', '10.92.0.0/29');
    remote.set(e.name, e);
  }
  const cr = await keptClient(mesh, 'cr', 0, 'remote');

  const peerRestart: Row = { event: 'remote forwarder (the endpoint\'s node) restarted', expected: 'no packet lost', heal: [], lost: [], gap: [] };
  for (let i = 0; i < ROUNDS; i++) {
    const node = remote.get(cr.endpoint())!.node;
    const flow = await steadyFlow(cr.ns, cr.peer());
    const at = Date.now();
    await stopNsm(mesh.nodes[node].forwarder);
    const fwd = await mesh.startForwarder(node, { NSM_LOG_LEVEL: 'info' });
    await waitFor('the adoption', () => fwd.output().includes('adopted the tunnel of a previous forwarder'), 20_000);
    await sleep(500);
    const end = Date.now();
    await flow.stop();
    record(peerRestart, flow, at, end);
  }
  rows.push(peerRestart);

  const nodeGone: Row = { event: 'remote node gone (its forwarder and endpoint)', expected: 'connected to another node\'s endpoint in < 5 s', heal: [], lost: [], gap: [], baseline: 'remote' };
  for (let i = 0; i < ROUNDS; i++) {
    await sleep(IDLE_MS);
    const e = remote.get(cr.endpoint())!;
    const flow = await steadyFlow(cr.ns, cr.peer());
    const at = Date.now();
    await Promise.all([kill(mesh.nodes[e.node].forwarder), kill(e.proc)]);
    ip(['netns', 'del', e.ns]);
    ip(['netns', 'del', mesh.nodes[e.node].netns]);
    const gone = Date.now();
    remote.delete(e.name);
    const first = await waitFor('a reply through another node', () => flow.firstReplyAfter(gone), 30_000);
    await flow.stop();
    nodeGone.heal.push(first.at - at);
    record(nodeGone, flow, at, first.at);
    const node = await mesh.addNode({ NSM_LOG_LEVEL: 'info' });
    const added = await start(`ep-r${node + 1}`, node, 'remote', '10.92.0.0/29');
    remote.set(added.name, added);
  }
  rows.push(nodeGone);
}

async function registryRow(rows: Row[]): Promise<void> {
  const dir = tempDir(t, `${p}r`);
  const [node, ep, c, fresh] = ['rn', 're', 'rc', 'rf'].map((n) => addNetns(t, `${p}-${n}`));
  for (const ns of [node, ep, c, fresh]) ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  const api = spawn('ip', ['netns', 'exec', node, process.execPath, join(ROOT, 'test/fixtures/nsm-api-process.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => api.kill('SIGKILL'));
  const apiLines: string[] = [];
  createInterface({ input: api.stdout }).on('line', (l) => apiLines.push(l));
  await waitFor('the API server', () => apiLines.length > 0, 15_000);
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, JSON.parse(apiLines[0]) as string);
  const sock = join(dir, 'nsm.sock');
  rmSync(sock, { force: true });
  spawnNsm(t, node, ['forwarder'], { NSM_NAME: `${p}-rfwd`, NSM_LISTEN_ON: `unix://${sock}`, NSM_PEER_LISTEN_ON: '', KUBECONFIG: kubeconfig, NSM_NAMESPACE: 'nsm-system', NSM_MAX_TOKEN_LIFETIME: '3s' });
  await waitFor('the forwarder', () => { try { return statSync(sock).isSocket(); } catch { return false; } }, 15_000);
  const endpoint = spawnNsm(t, ep, ['nse'], { NSM_NAME: 'ep-kube', NSM_SERVICE_NAMES: 'kube', NSM_CIDR_PREFIX: '10.93.0.0/29', NSM_CONNECT_TO: `unix://${sock}`, NSM_LISTEN_ON: `unix://${join(dir, 'ep.sock')}`, NSM_LOG_LEVEL: 'info', NSM_MAX_TOKEN_LIFETIME: '3s' });
  await waitFor('the endpoint', () => endpoint.output().includes('endpoint registered'), 20_000);
  const env = { NSM_NAME: 'rc', NSM_NETWORK_SERVICES: 'kernel://kube/nsm-1', NSM_CONNECT_TO: `unix://${sock}`, NSM_CONNECTIONS_DIR: join(dir, 'rc') };
  const init = spawnNsm(t, c, ['nsc', 'init'], env);
  if (await init.exited !== 0) throw new Error(`the registry row's client did not connect: ${init.output()}`);
  spawnNsm(t, c, ['nsc', 'run'], env);
  const peer = (JSON.parse(readFileSync(join(dir, 'rc', 'nsm-1.json'), 'utf8')) as { context: { ipContext: { dstIpAddrs: string[] } } }).context.ipContext.dstIpAddrs[0].split('/')[0];
  const expires = () => Math.min(...(JSON.parse(readFileSync(join(dir, 'rc', 'nsm-1.json'), 'utf8')) as { path: { pathSegments: Array<{ expires?: string }> } }).path.pathSegments.filter((s) => s.expires).map((s) => Date.parse(s.expires!)));
  const row: Row = { event: 'registry unreachable (API server down)', expected: 'existing connections keep working and refreshing; new requests fail naming the registry', heal: [], lost: [], gap: [] };
  const refusedIn: number[] = [];
  let refreshed = 0;
  let named = 0;
  const toggled = async (want: string) => {
    const n = apiLines.filter((l) => l === want).length;
    api.kill('SIGUSR1');
    await waitFor(`the API server ${want}`, () => apiLines.filter((l) => l === want).length > n, 10_000);
  };
  const client = spawn('ip', ['netns', 'exec', fresh, process.execPath, join(ROOT, 'bench/heal-client.ts')], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => client.kill('SIGKILL'));
  const answers = createInterface({ input: client.stdout })[Symbol.asyncIterator]();
  for (let i = 0; i < ROUNDS; i++) {
    const flow = await steadyFlow(c, peer);
    const at = Date.now();
    await toggled('down');
    await sleep(4000); // more than a connection lifetime (3 s)
    client.stdin.write(`${JSON.stringify({ forwarder: `unix://${sock}`, service: 'kube' })}\n`);
    const answer = JSON.parse((await answers.next()).value as string) as { ms: number; error?: string };
    if (answer.error) {
      refusedIn.push(answer.ms);
      if (/the registry \(Kubernetes API .*\) cannot be reached/.test(answer.error)) named++;
    }
    if (expires() > at + 3000) refreshed++;
    const end = Date.now();
    await flow.stop();
    record(row, flow, at, end);
    await toggled('up');
    await sleep(2000);
  }
  row.note = `refreshed through the outage in ${refreshed} of ${ROUNDS}; a new request refused in ${refusedIn.length ? `${median(refusedIn).toFixed(0)} ms median, ${worst(refusedIn).toFixed(0)} worst` : 'never'}, naming the registry in ${named} of ${ROUNDS}`;
  rows.push(row);
}

if (process.getuid?.() !== 0) {
  process.stderr.write('bench:heal creates network namespaces: run it as root\n');
  process.exit(1);
}
try {
  const rows: Row[] = [];
  const fresh = { local: [] as number[], remote: [] as number[] };
  await meshRows(rows, fresh);
  await registryRow(rows);
  const ms = (xs: number[]) => (xs.length ? `${median(xs).toFixed(0)} / ${worst(xs).toFixed(0)}` : '-');
  say(`${ROUNDS} rounds per row; ping every 10 ms; ms as median / worst`);
  say('');
  say(`fresh connection setup (Request to first reply): same node ${ms(fresh.local)}, across nodes ${ms(fresh.remote)}`);
  say('');
  say('| event | expected | event to first packet through the new path | heal / fresh setup (medians) | packets lost | longest gap ms | notes |');
  say('|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const base = r.baseline ? fresh[r.baseline] : undefined;
    const ratio = base && r.heal.length ? `${(median(r.heal) / median(base)).toFixed(1)}x` : '-';
    say(`| ${r.event} | ${r.expected} | ${ms(r.heal)} | ${ratio} | ${r.lost.length ? `${median(r.lost)} / ${worst(r.lost)}` : '-'} | ${ms(r.gap)} | ${r.note ?? ''} |`);
  }
} finally {
  for (const fn of teardowns.reverse()) await Promise.resolve().then(fn).catch(() => {});
}
