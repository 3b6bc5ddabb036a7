import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { addNetns, ip, link, ROOT, runNsm, spawnNsm, stopNsm, tempDir, uniquePrefix, waitFor, whyNoKernelTests } from '../../fixtures/netns.ts';

const PYTHON = '/usr/bin/python3';
const APP = join(ROOT, 'test/fixtures/python/nsm_app.py');
const PROTOS = ['connection', 'connectioncontext', 'networkservice'].map((p) => `proto/networkservice/${p}.proto`);

function whyNoPython(): string | false {
  if (spawnSync(PYTHON, ['-c', 'import grpc, google.protobuf'], { timeout: 10_000 }).status !== 0) return 'Debian\'s python3 with grpcio and protobuf is not installed (apt-get install python3-grpcio python3-protobuf)';
  if (spawnSync('protoc', ['--version']).status !== 0) return 'protoc is not installed (apt-get install protobuf-compiler)';
  return false;
}
const skip = whyNoKernelTests() || whyNoPython();

type Step = { ok?: unknown; code?: string; details?: string };
type Conn = { id: string; service: string; endpoint: string; mechanism: string; name: string; src: string[]; state: number };

/** Runs the Python application in the pod's namespace: one result per step. */
function app(netns: string, env: Record<string, string>, ...steps: string[]): Step[] {
  const r = spawnSync('ip', ['netns', 'exec', netns, PYTHON, APP, ...steps], { env: { ...env, PATH: process.env.PATH }, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`the Python application failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Step[];
}

/**
 * An application of the pod, in Python with grpcio and the networkservice protos compiled by
 * protoc (nothing of nsm's own code), requests a service through the sidecar's client API, sees
 * it in MonitorConnections and in `nsm nsc list`, keeps it across a sidecar restart, refreshes it,
 * is refused bad requests, and closes it; another connection it asked for is closed when the sidecar stops.
 */
t.test('an application requests and closes a network service through the sidecar\'s client API', { skip, timeout: 180_000 }, async (t) => {
  const p = uniquePrefix('ca');
  const dir = tempDir(t, p);
  const protoPy = join(dir, 'py');
  mkdirSync(protoPy);
  const protoc = spawnSync('protoc', ['-I', 'proto', '-I', '/usr/include', `--python_out=${protoPy}`, ...PROTOS], { cwd: ROOT, encoding: 'utf8' });
  t.equal(protoc.status, 0, protoc.stderr);

  const [node, c1, nse] = ['node', 'c1', 'nse'].map((n) => addNetns(t, `${p}-${n}`));
  for (const ns of [node, c1, nse]) ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  const sock = join(dir, 'nsm.sock');
  spawnNsm(t, node, ['forwarder'], { NSM_NAME: `${p}-fwd`, NSM_LISTEN_ON: `unix://${sock}`, NSM_PEER_LISTEN_ON: '', NSM_REGISTRY_DIR: join(dir, 'registry'), NSM_MEMIF_DIR: join(dir, 'memif') });
  await waitFor('the forwarder socket', () => { try { return statSync(sock).isSocket(); } catch { return false; } }, 15_000);
  const endpoint = spawnNsm(t, nse, ['nse'], { NSM_NAME: `${p}-ep`, NSM_SERVICE_NAMES: 'ca,cb', NSM_CIDR_PREFIX: '10.246.0.0/24', NSM_CONNECT_TO: `unix://${sock}`, NSM_LISTEN_ON: `unix://${join(dir, 'ep.sock')}`, NSM_LOG_LEVEL: 'info' });
  await waitFor('the endpoint registered', () => endpoint.output().includes('endpoint registered'), 15_000);

  const conns = join(dir, 'c1');
  const clientApi = `unix://${join(dir, 'api', 'nsc.sock')}`;
  const env = { NSM_NAME: 'c1', NSM_NETWORK_SERVICES: 'kernel://ca/nsm-1', NSM_CONNECT_TO: `unix://${sock}`, NSM_CONNECTIONS_DIR: conns, NSM_INIT_TIMEOUT: '15s' };
  t.equal((await runNsm(t, c1, ['nsc', 'init'], env)).code, 0);
  const runEnv = { ...env, NSM_CLIENT_API: clientApi, NSM_REQUEST_TIMEOUT: '4s', NSM_LOG_LEVEL: 'info' };
  let run = spawnNsm(t, c1, ['nsc', 'run'], runEnv);
  await waitFor('the client API', () => run.output().includes('serving the client API'), 15_000);
  t.equal(statSync(join(dir, 'api', 'nsc.sock')).mode & 0o777, 0o666, 'any user of the pod may connect');
  const py = { NSM_PROTO_PY: protoPy, NSM_CLIENT_API: clientApi };

  const [asked, there, listed, refreshed] = app(c1, py, 'request:cb/app-1', 'exists:app-1', 'list', 'refresh:app-1');
  const conn = asked.ok as Conn;
  t.match(conn, { id: 'c1-app-1', service: 'cb', endpoint: `${p}-ep`, mechanism: 'KERNEL', name: 'app-1', state: 0 }, 'answered with the connection, its id given by the sidecar');
  t.match(conn.src[0], /^10\.246\.0\.\d+\/32$/, 'with its address');
  t.equal(there.ok, true, 'the interface is in the pod when the answer comes');
  t.same((listed.ok as Conn[]).map((c) => [c.id, c.service, c.name]), [['c1-0', 'ca', 'nsm-1'], ['c1-app-1', 'cb', 'app-1']], 'MonitorConnections shows the annotation\'s connection and the application\'s');
  t.match(refreshed.ok, { id: 'c1-app-1', service: 'cb' }, 'a Request again with the answered connection (a refresh) answers it as kept');
  t.match(JSON.parse(readFileSync(join(conns, 'app-1.json'), 'utf8')), { id: 'c1-app-1', networkService: 'cb' }, 'its connection file is written');
  const list = await runNsm(t, c1, ['nsc', 'list'], { NSM_CLIENT_API: clientApi });
  t.equal(list.code, 0, list.output);
  t.match(list.output, /^app-1\s+cb\s+\S+-ep\s+10\.246\.0\.\d+\/32\s+UP\s+c1-app-1$/m, 'nsm nsc list in the pod lists it');

  const app1 = link(c1, 'app-1')?.ifindex;
  run.child.kill('SIGKILL');
  await run.exited;
  run = spawnNsm(t, c1, ['nsc', 'run'], runEnv);
  await waitFor('the restarted sidecar\'s client API', () => run.output().includes('serving the client API'), 15_000);
  t.match(run.output(), /adopting a connection an application of the pod asked for/, 'a sidecar that crashed and was started again finds the application\'s connection in its file');
  t.equal(link(c1, 'app-1')?.ifindex, app1, 'and keeps it: the same interface, not a new one');
  const [relisted] = app(c1, py, 'list');
  t.same((relisted.ok as Conn[]).map((c) => c.id), ['c1-0', 'c1-app-1'], 'the restarted sidecar reports it');

  const bad = app(c1, py, 'request:/x-1', 'request:cb/bad/name', 'request:cb/nsm-1', 'request:cb/lo', 'request:no-such-service/x-2');
  t.match(bad[0], { code: 'INVALID_ARGUMENT', details: /connection\.network_service is empty: name the network service/ }, 'no service');
  t.match(bad[1], { code: 'INVALID_ARGUMENT', details: /interface name "bad\/name" contains "\/"/ }, 'a bad interface name');
  t.match(bad[2], { code: 'INVALID_ARGUMENT', details: /interface name nsm-1 is already used in this pod/ }, 'a name the annotation\'s connection has');
  t.match(bad[3], { code: 'INVALID_ARGUMENT', details: /interface name lo is already used in this pod/ }, 'a name the pod\'s kernel has');
  t.match(bad[4], { code: 'NOT_FOUND', details: /no-such-service/ }, 'a service nobody provides: the forwarder\'s answer');
  t.notOk(link(c1, 'x-2'), 'nothing left of a refused request');

  const [second, closed, gone, closeOwn] = app(c1, py, 'request:ca/', 'close:c1-app-1', 'exists:app-1', 'close:c1-0');
  t.match(second.ok, { id: 'c1-nsm-2', name: 'nsm-2', service: 'ca' }, 'without a name: the first free nsm-<n>');
  t.equal(closed.ok, 'closed');
  t.equal(gone.ok, false, 'closed: the interface is gone when Close answers');
  t.match(closeOwn, { code: 'FAILED_PRECONDITION', details: /connection c1-0 \(kernel:\/\/ca\/nsm-1\) is the pod's own, named by its annotation networkservicemesh\.io: remove it from the annotation to close it/ }, 'the annotation\'s connections are not the applications\' to close');
  t.ok(link(c1, 'nsm-1'), 'and it stays');
  t.notOk(existsSync(join(conns, 'app-1.json')), 'its connection file is removed');
  const refused = app(c1, py, 'list');
  t.same((refused[0].ok as Conn[]).map((c) => c.id), ['c1-0', 'c1-nsm-2'], 'the closed connection is no longer listed');

  t.equal(await stopNsm(run), 0, run.output());
  t.notOk(link(c1, 'nsm-2'), 'the sidecar closes the application\'s connections when the pod ends');
  t.notOk(link(c1, 'nsm-1'), 'and the annotation\'s');
});
