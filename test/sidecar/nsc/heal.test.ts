import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { Connection, parseNsUrl, type NetworkServiceRequest } from '../../../proto/api.ts';
import type { NetworkServiceServer } from '../../../sdk/chain/types.ts';
import { NsmError } from '../../../sdk/errors.ts';
import { networkServiceBinding } from '../../../sdk/grpc/networkservice-server.ts';
import { startGrpcServer, type RunningGrpcServer } from '../../../sdk/grpc/server.ts';
import { silentLogger } from '../../../sdk/log.ts';
import { dialer, firstRequest, readConnection, requestWithRetry } from '../../../sidecar/nsc/client.ts';
import { keepAlive } from '../../../sidecar/nsc/keep-alive.ts';
import { KeptConnection } from '../../../sidecar/nsc/kept-connection.ts';
import { NscMetrics } from '../../../sidecar/nsc/metrics.ts';
import { value } from '../../fixtures/metrics.ts';
import { within } from '../../fixtures/wait.ts';

const dir = mkdtempSync(join(tmpdir(), 'nsm-heal-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let sockets = 0;

/**
 * A forwarder stand-in on a real gRPC socket: each Request is answered by the script (refuse with
 * an error, or accept), and every call is recorded. Accepted connections expire `lifetimeMs` later.
 */
class ScriptedForwarder {
  readonly address = `unix://${join(dir, `fwd-${++sockets}.sock`)}`;
  readonly requests: NetworkServiceRequest[] = [];
  readonly closes: Connection[] = [];
  refuse: NsmError | undefined;
  lifetimeMs = 600;
  #server: RunningGrpcServer | undefined;

  readonly chain: NetworkServiceServer = {
    request: async (_ctx, req) => {
      this.requests.push(req);
      if (this.refuse) throw this.refuse;
      const conn = req.connection!;
      const segments = (conn.path?.pathSegments ?? []).map((s) => ({ ...s, expires: new Date(Date.now() + this.lifetimeMs) }));
      return Connection.fromPartial({ ...conn, path: { index: 0, pathSegments: segments } });
    },
    close: async (_ctx, conn) => void this.closes.push(conn),
  };

  async start(): Promise<void> {
    this.#server = await startGrpcServer({ listenOn: this.address, services: [networkServiceBinding(this.chain, silentLogger())] });
  }

  async stop(): Promise<void> {
    await this.#server?.stop(100);
    this.#server = undefined;
  }
}

const url = parseNsUrl('kernel://svc/nsm-1');

t.test('requestWithRetry: refusals are retried with backoff until one is accepted', async (t) => {
  const fwd = new ScriptedForwarder();
  await fwd.start();
  t.teardown(() => fwd.stop());
  fwd.refuse = new NsmError('RESOURCE_EXHAUSTED', 'pool 10.0.0.0/30 is exhausted');
  setTimeout(() => (fwd.refuse = undefined), 500);
  const d = dialer(fwd.address, 1000);
  t.teardown(() => d.reset());
  const failures: string[] = [];
  const conn = await requestWithRetry(d, () => firstRequest(url, 'pod-0', 'pod'), {
    requestTimeoutMs: 1000, deadline: Date.now() + 10_000, onFailure: (e, attempt) => failures.push(`${attempt}:${e.code}`),
  });
  t.equal(conn.id, 'pod-0');
  t.ok(failures.length >= 2, `${failures.length} refusals before the acceptance`);
  t.ok(failures.every((f) => f.endsWith(':RESOURCE_EXHAUSTED')), 'each refusal seen with its code');
  t.equal(fwd.requests.length, failures.length + 1);
});

t.test('requestWithRetry: at the deadline the most telling failure is reported, with the number of attempts', async (t) => {
  const fwd = new ScriptedForwarder();
  await fwd.start();
  t.teardown(() => fwd.stop());
  fwd.refuse = new NsmError('NOT_FOUND', 'no endpoint of network service svc is registered');
  const d = dialer(fwd.address, 1000);
  t.teardown(() => d.reset());
  const err = await requestWithRetry(d, () => firstRequest(url, 'pod-0', 'pod'), { requestTimeoutMs: 500, deadline: Date.now() + 1200 }).catch((e: unknown) => e);
  t.ok(err instanceof NsmError && err.code === 'NOT_FOUND', String(err));
  t.match(String(err), /no endpoint of network service svc is registered \(after \d+ attempts\)/);
});

t.test('requestWithRetry: a forwarder that comes up late is dialled again and answers', async (t) => {
  const fwd = new ScriptedForwarder();
  t.teardown(() => fwd.stop());
  setTimeout(() => void fwd.start(), 600);
  const d = dialer(fwd.address, 300);
  t.teardown(() => d.reset());
  const conn = await requestWithRetry(d, () => firstRequest(url, 'pod-0', 'pod'), { requestTimeoutMs: 500, deadline: Date.now() + 10_000 });
  t.equal(conn.id, 'pod-0');
});

t.test('keepAlive: refreshes before expiry, survives a forwarder restart without closing, reselects after refusals', async (t) => {
  const fwd = new ScriptedForwarder();
  await fwd.start();
  const d = dialer(fwd.address, 300);
  const stop = new AbortController();
  t.teardown(async () => {
    stop.abort();
    d.reset();
    await fwd.stop();
  });
  let kept: KeptConnection[] = [];
  const metrics = new NscMetrics(() => kept);
  kept = [new KeptConnection(url, 'pod-0', undefined, { events: metrics.eventsOf(url.service) })];
  const series = async (name: string) => value(await metrics.registry.metrics(), name);
  const loop = keepAlive(kept[0], d, 'pod', join(dir, 'conns'), 500, silentLogger(), stop.signal);

  t.ok(await within(3000, () => fwd.requests.length >= 3), 'refreshed again and again (600 ms lifetime, refresh at a third)');
  t.equal(await series('nsm_nsc_connections_up{service="svc"}'), 1, 'the connection is up');
  t.equal(await series('nsm_nsc_last_failure_timestamp_seconds{service="svc"}'), undefined, 'nothing failed');
  t.same(fwd.requests[0].connection?.path?.pathSegments.map((s) => s.expires), [undefined], 'the first request is a fresh one');
  t.ok(fwd.requests.slice(1).every((r) => r.connection?.path?.pathSegments[0]?.expires !== undefined), 'later ones refresh the answered connection');
  t.equal((await readConnection(join(dir, 'conns'), 'nsm-1'))?.id, 'pod-0', 'the connection is written for applications');

  // Unreachable is not a refusal: the connection is kept and refreshed once the forwarder is back.
  await fwd.stop();
  await new Promise((r) => setTimeout(r, 1500));
  const before = fwd.requests.length;
  await fwd.start();
  t.ok(await within(5000, () => fwd.requests.length > before), 'refreshed again after the restart');
  // A Close decided during the outage could only reach the forwarder once it is back: wait for
  // another refresh, then check that none came.
  t.ok(await within(3000, () => fwd.requests.length > before + 1), 'and refreshed once more');
  t.equal(fwd.closes.length, 0, 'never closed for the outage, not even once the forwarder was back');
  t.ok(fwd.requests.slice(before).every((r) => r.connection?.path?.pathSegments[0]?.expires !== undefined), 'the same connection, refreshed');
  t.ok((await series('nsm_nsc_last_failure_timestamp_seconds{service="svc"}'))! > 0, 'the refreshes the outage failed are failures');
  t.equal(await series('nsm_nsc_heals_total{service="svc",cause="refresh-refused"}'), 0, 'but no heal: the connection was kept');

  // Refusals from a running forwarder: after three the connection is closed and requested anew.
  fwd.refuse = new NsmError('FAILED_PRECONDITION', 'the endpoint refused');
  t.ok(await within(10_000, () => fwd.closes.length === 1), 'closed after repeated refusals');
  fwd.refuse = undefined;
  const afterClose = fwd.requests.length;
  t.ok(await within(5000, () => fwd.requests.length > afterClose), 'requested again');
  t.ok(await within(3000, () => fwd.requests.slice(afterClose).some((r) => r.connection?.path?.pathSegments[0]?.expires === undefined)), 'as a fresh request');
  t.ok(await within(3000, () => kept[0].up), 'connected again');
  t.equal(await series('nsm_nsc_connections_up{service="svc"}'), 1, 'up again');
  t.equal(await series('nsm_nsc_heals_total{service="svc",cause="refresh-refused"}'), 1, 'one heal, for the refusals');
  t.equal(await series('nsm_nsc_heals_total{service="svc",cause="endpoint-not-found"}'), 0, 'and no other');

  stop.abort();
  await loop;
});
