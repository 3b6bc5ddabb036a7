/**
 * Webhook benchmark (loopback only): throughput of the real webhook against a null webhook on the same
 * TLS stack, side by side, each speed device measured by a server without it (BENCH_DEVICES), and
 * latency at a fixed 1,000 requests/s. Each server runs in a child process of its own, so the
 * load generator does not share their event loop. Run: npx node bench/webhook.ts
 * (BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" profiles the servers' processes)
 */
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { makeCa, makeLeaf } from '../test/fixtures/certs.ts';

const DURATION_S = Number(process.env.BENCH_DURATION ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const RATE = 1000;

const TOKEN_VOLUME = 'kube-api-access-abcde';
let podsSent = 0;
/** The review for the next pod: each pod's service account token volume has its own random suffix, as in a cluster. */
const nextPod = (body: string) => body.replaceAll(TOKEN_VOLUME, `kube-api-access-${(podsSent++).toString(36).padStart(5, '0')}`);

/** A pod as a ReplicaSet controller creates it, with a realistic amount of env, mounts and labels. */
function review(): string {
  const env = Array.from({ length: 20 }, (_, i) => ({ name: `APP_SETTING_${i}`, value: `value-${i}-${'x'.repeat(20)}` }));
  const container = (name: string) => ({
    name,
    image: `registry.example.com/team/${name}:1.2.3`,
    ports: [{ containerPort: 8080, protocol: 'TCP' }],
    env,
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
    volumeMounts: [{ name: TOKEN_VOLUME, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }],
    readinessProbe: { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 5 },
  });
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'shop',
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          generateName: 'checkout-6f9c7d8b4-',
          namespace: 'shop',
          labels: { app: 'checkout', 'pod-template-hash': '6f9c7d8b4', team: 'payments' },
          annotations: { 'networkservicemesh.io': 'kernel://payments-l2/nsm-1,kernel://audit@remote.example/nsm-2?app=checkout', 'prometheus.io/scrape': 'true' },
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'checkout-6f9c7d8b4', uid: '0d0e8a5c-1f8a-4c55-9d2a-7b1c7e0d3a11', controller: true }],
        },
        spec: {
          containers: [container('checkout'), container('envoy')],
          volumes: [{ name: TOKEN_VOLUME, projected: { sources: [{ serviceAccountToken: { path: 'token', expirationSeconds: 3607 } }] } }],
          serviceAccountName: 'checkout',
        },
      },
      dryRun: false,
    },
  });
}

type Servers = ReturnType<typeof fork>;

/** CPU time (user + system, microseconds) a server's process has used so far. */
function serverCpu(server: Servers): Promise<number> {
  return new Promise((resolve) => {
    const on = (m: unknown) => {
      const cpu = (m as { cpu?: NodeJS.CpuUsage }).cpu;
      if (!cpu) return;
      server.off('message', on);
      resolve(cpu.user + cpu.system);
    };
    server.on('message', on);
    server.send('cpu');
  });
}

async function throughput(server: { child: Servers; port: number }, body: string) {
  const { child, port } = server;
  const cpu0 = await serverCpu(child);
  const r = await autocannon({
    url: `https://127.0.0.1:${port}/mutate`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: CONNECTIONS, duration: DURATION_S,
    requests: [{ setupRequest: (req) => ({ ...req, body: nextPod(body) }) }],
  });
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`port ${port}: ${r.non2xx} non-2xx, ${r.errors} errors`);
  const cpuUs = (await serverCpu(child)) - cpu0;
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, cpuPerReq: cpuUs / r.requests.total };
}

/** One review, its reply's body. */
function postOnce(port: number, ca: Buffer, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/mutate', method: 'POST', ca, servername: 'localhost', headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Open-loop load at a fixed rate; latencies measured with sub-millisecond precision. */
async function fixedRate(port: number, ca: Buffer, body: string): Promise<{ p50: number; p99: number; count: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 32, ca, servername: 'localhost' });
  const once = () =>
    new Promise<number>((resolve, reject) => {
      const t0 = performance.now();
      const req = request({ host: '127.0.0.1', port, path: '/mutate', method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - t0) : reject(new Error(`status ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end(nextPod(body));
    });
  for (let i = 0; i < 200; i++) await once();
  const latencies: Promise<number>[] = [];
  const start = performance.now();
  const total = RATE * Math.min(DURATION_S, 5);
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    latencies.push(once());
  }
  const sorted = (await Promise.all(latencies)).sort((a, b) => a - b);
  agent.destroy();
  const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  return { p50: pct(50), p99: pct(99), count: sorted.length };
}

/** The speed devices, each measured by a server that runs without it (BENCH_DEVICES picks some). */
const DEVICES = (process.env.BENCH_DEVICES ?? 'decision-cache').split(',').filter(Boolean);

type Run = Awaited<ReturnType<typeof throughput>>;

const dir = mkdtempSync(join(tmpdir(), 'nsm-bench-'));
try {
  const ca = makeCa(dir, 'ca');
  const leaf = makeLeaf(dir, 'webhook', ca);
  const execArgv = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  // `real` has every device; `without:<device>` is the real webhook with that one device off.
  const names = ['null', 'real', ...DEVICES.map((d) => `without:${d}`)];
  const start = (name: string) => new Promise<{ name: string; child: Servers; port: number }>((resolve, reject) => {
    const [which, off] = name.startsWith('without:') ? ['real', name.slice('without:'.length)] : [name, ''];
    const child = fork(join(import.meta.dirname, 'webhook-servers.ts'), [leaf.cert, leaf.key, which, off], { stdio: 'inherit', execArgv });
    child.once('message', (m) => resolve({ name, child, port: (m as { port: number }).port }));
    child.once('exit', (code) => reject(new Error(`the ${name} server exited with ${code}`)));
  });
  const started = await Promise.all(names.map(start));
  const servers = new Map(started.map((s) => [s.name, s]));
  const server = (name: string) => servers.get(name)!;
  const body = review();
  const caPem = readFileSync(ca.cert);
  const patch = (JSON.parse(await postOnce(server('real').port, caPem, body)) as { response: { patch?: string } }).response.patch ?? '';
  for (const name of names.slice(2)) {
    const other = (JSON.parse(await postOnce(server(name).port, caPem, body)) as { response: { patch?: string } }).response.patch;
    if (other !== patch) throw new Error(`${name} answers another patch than the real webhook`);
  }
  console.log(`pod review ${body.length} bytes, patch ${(patch.length / 1024).toFixed(1)} KB; ${CONNECTIONS} connections, ${ROUNDS} rounds of ${DURATION_S}s per server, loopback HTTPS`);
  // BENCH_LATENCY_ONLY=1 skips the throughput rounds (to repeat the fixed-rate runs alone).
  const rounds: Array<Map<string, Run>> = [];
  const roundCount = process.env.BENCH_LATENCY_ONLY === '1' ? 0 : ROUNDS;
  for (const name of roundCount > 0 ? names : []) await throughput(server(name), body);
  const line = (name: string, r: Run) =>
    `${name.padEnd(26)} ${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50} ms  p99 ${r.p99} ms  server CPU ${r.cpuPerReq.toFixed(1)} µs/req`;
  // Each round runs the servers in a rotated order, so drift in the machine's speed hits them
  // alike; the figures printed are those of the median round.
  for (let i = 0; i < roundCount; i++) {
    const runs = new Map<string, Run>();
    for (let k = 0; k < names.length; k++) {
      const name = names[(i + k) % names.length];
      runs.set(name, await throughput(server(name), body));
    }
    rounds.push(runs);
    const nul = runs.get('null')!;
    console.log(`round ${i + 1}: ${names.map((n) => `${n} ${(runs.get(n)!.rps / nul.rps).toFixed(2)}x`).join(', ')} (of null ${nul.rps.toFixed(0)} req/s)`);
  }
  const median = (f: (r: Map<string, Run>) => number) => [...rounds].sort((a, b) => f(a) - f(b))[Math.floor(rounds.length / 2)];
  if (roundCount > 0) {
    const mid = median((r) => r.get('real')!.rps / r.get('null')!.rps);
    console.log(line('null webhook', mid.get('null')!));
    console.log(line('nsm webhook', mid.get('real')!));
    console.log(`throughput ratio ${(mid.get('real')!.rps / mid.get('null')!.rps).toFixed(2)}x of the null webhook, median of ${ROUNDS} rounds (target >= 0.6x)`);
    for (const device of DEVICES) {
      const name = `without:${device}`;
      const gain = (r: Map<string, Run>) => r.get('real')!.rps / r.get(name)!.rps;
      const saving = (r: Map<string, Run>) => r.get(name)!.cpuPerReq / r.get('real')!.cpuPerReq;
      const g = [...rounds].map(gain).sort((a, b) => a - b);
      const c = [...rounds].map(saving).sort((a, b) => a - b);
      const m = (xs: number[]) => xs[Math.floor(xs.length / 2)];
      console.log(`${device}: throughput with it ${m(g).toFixed(2)}x of without (rounds ${g.map((x) => x.toFixed(2)).join(' ')}); server CPU per request without it ${m(c).toFixed(2)}x (rounds ${c.map((x) => x.toFixed(2)).join(' ')}); keep only at >= 1.10x`);
    }
  }
  for (const name of names) {
    const fixed = await fixedRate(server(name).port, caPem, body);
    console.log(`at ${RATE} req/s: ${name.padEnd(26)} p50 ${fixed.p50.toFixed(2)} ms p99 ${fixed.p99.toFixed(2)} ms${name === 'real' ? ' (target < 2 ms)' : ''}; ${fixed.count} requests`);
  }
  for (const s of started) s.child.disconnect();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
