import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { Connection, NetworkServiceEndpoint, parseNsUrl, type NetworkServiceRequest } from '../../../proto/api.ts';
import { chain } from '../../../sdk/chain/chain.ts';
import { monitor } from '../../../sdk/elements/monitor.ts';
import { updatePath } from '../../../sdk/elements/update-path.ts';
import { NsmError } from '../../../sdk/errors.ts';
import { networkServiceBinding } from '../../../sdk/grpc/networkservice-server.ts';
import { startGrpcServer } from '../../../sdk/grpc/server.ts';
import { silentLogger } from '../../../sdk/log.ts';
import { openDirRegistry } from '../../../sdk/registry/dir-backend.ts';
import { registryBindings } from '../../../sdk/registry/server.ts';
import { dialer, readConnection } from '../../../sidecar/nsc/client.ts';
import { watchForwarder } from '../../../sidecar/nsc/forwarder-monitor.ts';
import { keepAlive } from '../../../sidecar/nsc/keep-alive.ts';
import { KeptConnection } from '../../../sidecar/nsc/kept-connection.ts';
import { within } from '../../fixtures/wait.ts';

const dir = mkdtempSync(join(tmpdir(), 'nsm-keep-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const url = parseNsUrl('kernel://svc/nsm-1');
let sockets = 0;

/**
 * A forwarder stand-in on a real socket: updatepath (its own hop), the real monitor element, and
 * a script that refuses with the next error of `refusals` or accepts; connections live `lifetimeMs`.
 * It also serves the registry of a directory, so clients can watch for endpoints.
 */
async function scriptedForwarder(t: Test, lifetimeMs: number) {
  const address = `unix://${join(dir, `fwd-${++sockets}.sock`)}`;
  const requests: NetworkServiceRequest[] = [];
  const requestedAt: number[] = [];
  const closes: Connection[] = [];
  const refusals: NsmError[] = [];
  const mon = monitor();
  const served = chain([updatePath('fwd'), mon, {
    name: 'script',
    request: async (_ctx, req) => {
      requests.push(req);
      requestedAt.push(Date.now());
      const refusal = refusals.shift();
      if (refusal) throw refusal;
      const conn = req.connection!;
      const segments = (conn.path?.pathSegments ?? []).map((s) => ({ ...s, expires: new Date(Date.now() + lifetimeMs) }));
      return Connection.fromPartial({ ...conn, networkServiceEndpointName: 'nse-a', path: { index: conn.path?.index ?? 0, pathSegments: segments } });
    },
    close: async (_ctx, conn) => void closes.push(conn),
  }]);
  const registry = await openDirRegistry(join(dir, `reg-${sockets}`));
  const server = await startGrpcServer({
    listenOn: address,
    services: [networkServiceBinding(served, silentLogger()), mon.binding, ...registryBindings(registry, silentLogger(), { expirationMs: 60_000 }).bindings],
  });
  t.teardown(async () => {
    await server.stop(100);
    await registry.close();
  });
  /** The forwarder's id of the client's connection (its hop's segment). */
  const hopId = () => [...mon.connections.keys()][0];
  return { address, requests, requestedAt, closes, refusals, mon, registry, hopId };
}

/** A client keeping one connection, with its log lines. */
function client(t: Test, address: string) {
  const d = dialer(address, 300);
  const stop = new AbortController();
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const kept = new KeptConnection(url, 'pod-0');
  const conns = join(dir, `conns-${sockets}`);
  const loops = [keepAlive(kept, d, 'pod', conns, 500, log, stop.signal), watchForwarder(d, 'pod', [kept], log, stop.signal)];
  t.teardown(async () => {
    stop.abort();
    await Promise.all(loops);
    d.reset();
  });
  return { kept, lines, conns };
}

/** A first request: the client's own segment carries no expiry yet (the script sees it after updatepath added its hop). */
const fresh = (r: NetworkServiceRequest) => r.connection?.path?.pathSegments[0]?.expires === undefined;

t.test('the monitor stream heals at once: DOWN refreshes the same connection, DELETE reselects without closing', async (t) => {
  const fwd = await scriptedForwarder(t, 60_000); // refresh period 20 s: anything sooner comes from an event
  const c = client(t, fwd.address);
  t.ok(await within(3000, () => fwd.requests.length === 1 && fwd.hopId() !== undefined), 'connected');
  t.ok(fresh(fwd.requests[0]), 'with a fresh request');

  fwd.mon.down(fwd.hopId());
  t.ok(await within(3000, () => fwd.requests.length === 2), 'DOWN: requested again, long before the refresh period');
  t.notOk(fresh(fwd.requests[1]), 'as a refresh of the same connection');
  t.equal(fwd.requests[1].connection?.networkServiceEndpointName, 'nse-a', 'naming the same endpoint');

  const before = fwd.hopId();
  fwd.mon.closing(before);
  t.ok(await within(3000, () => fwd.requests.length === 3), 'DELETE: requested again at once');
  t.ok(fresh(fwd.requests[2]), 'as a fresh request: the forwarder picks the endpoint');
  t.equal(fwd.requests[2].connection?.path?.pathSegments[0]?.id, 'pod-0', 'with the same connection id');
  t.equal(fwd.requests[2].mechanismPreferences[0].parameters.name, 'nsm-1', 'and the same interface name');
  t.equal(fwd.closes.length, 0, 'the client sent no Close: the forwarder had closed it');
  t.ok(await within(2000, () => c.lines.some((l) => l.msg === 'healed: connected again')), 'the log says it healed');
  t.equal((await readConnection(c.conns, 'nsm-1'))?.path?.pathSegments[1]?.id, c.kept.conn?.path?.pathSegments[1]?.id, 'the connection file is rewritten with the new connection');

  // An event about the connection replaced by the reselect changes nothing.
  const count = fwd.requests.length;
  fwd.mon.down(fwd.hopId());
  t.ok(await within(3000, () => fwd.requests.length === count + 1), 'the new connection is followed too');
});

t.test('a refresh answered NOT_FOUND reselects at once; UNAVAILABLE is retried without ever reselecting', async (t) => {
  const fwd = await scriptedForwarder(t, 1500); // refresh every 500 ms
  client(t, fwd.address);
  t.ok(await within(3000, () => fwd.requests.length === 1), 'connected');
  fwd.refusals.push(new NsmError('NOT_FOUND', 'endpoint nse-a is gone: its network namespace no longer exists'));
  t.ok(await within(3000, () => fwd.requests.length >= 3), 'refused once, then requested again');
  t.notOk(fresh(fwd.requests[1]), 'the refused one was a refresh');
  t.ok(fresh(fwd.requests[2]), 'the next one a fresh request, without waiting for more refusals');
  t.equal(fwd.closes.length, 0);

  const from = fwd.requests.length;
  for (let i = 0; i < 8; i++) fwd.refusals.push(new NsmError('UNAVAILABLE', 'endpoint nse-a is not identified on this node'));
  t.ok(await within(15_000, () => fwd.requests.length >= from + 9), 'eight UNAVAILABLE answers in a row, then one accepted');
  t.ok(fwd.requests.slice(from).every((r) => !fresh(r)), 'every one a refresh of the same connection: no reselect');
  t.equal(fwd.closes.length, 0, 'and no Close');
});

t.test('no endpoint: keeps trying with backoff, says so in its log, and connects as soon as one registers', async (t) => {
  const fwd = await scriptedForwarder(t, 60_000);
  for (let i = 0; i < 100; i++) fwd.refusals.push(new NsmError('NOT_FOUND', 'no endpoint registered for network service "svc"'));
  const c = client(t, fwd.address);
  const failures = () => c.lines.filter((l) => l.msg?.toString().startsWith('no endpoint of the network service'));
  t.ok(await within(10_000, () => failures().length >= 4), 'four attempts refused');
  const waits = failures().map((l) => Number.parseFloat(String(l.retryIn)));
  t.ok(waits.every((w, i) => i === 0 || w >= waits[i - 1]), `backing off: ${waits.join(', ')} s`);
  t.ok(waits.at(-1)! > waits[0], 'the waits grow');
  const last = failures().at(-1)!;
  fwd.refusals.length = 0;
  await fwd.registry.endpoints.put(NetworkServiceEndpoint.fromPartial({ name: 'nse-b', networkServiceNames: ['svc'], url: 'unix:///nowhere', expirationTime: new Date(Date.now() + 60_000) }));
  t.ok(await within(10_000, () => c.kept.conn !== undefined), 'connected');
  const accepted = fwd.requestedAt.at(-1)!;
  t.ok(accepted < Number(last.time) + waits.at(-1)! * 1000, 'the accepted attempt came before the backoff would have made it: the registration woke the client');
});
