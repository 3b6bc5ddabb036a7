import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectivityState } from '@grpc/grpc-js';
import t from 'tap';
import { dial, type Channel } from '../../../sdk/grpc/client.ts';
import { startGrpcServer } from '../../../sdk/grpc/server.ts';
import { silentLogger } from '../../../sdk/log.ts';
import { openDirRegistry } from '../../../sdk/registry/dir-backend.ts';
import { registryBindings } from '../../../sdk/registry/server.ts';
import type { EndpointOptions } from '../../../sidecar/nse/options.ts';
import { EndpointRegistration } from '../../../sidecar/nse/registration.ts';
import { VirtualClock } from '../../fixtures/clock.ts';
import { within } from '../../fixtures/wait.ts';

const dir = mkdtempSync(join(tmpdir(), 'nsm-registration-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const socketOf = (name: string) => `unix://${join(dir, `${name}.sock`)}`;

/** A stand-in for the forwarder's registry: real gRPC on the socket, its own directory each time. */
async function forwarderRegistry(socket: string, name: string) {
  const backend = await openDirRegistry(join(dir, name));
  const registry = registryBindings(backend, silentLogger(), { expirationMs: 60_000 });
  const server = await startGrpcServer({ listenOn: socket, services: registry.bindings });
  return {
    backend,
    registered: () => backend.endpoints.get('ep') !== undefined,
    stop: async () => {
      await server.stop(100);
      await backend.close();
    },
  };
}

const options = (socket: string): EndpointOptions => ({
  name: 'ep', services: ['svc'], labels: {}, payload: 'ETHERNET', connectTo: socket,
  listenOn: `unix://${join(dir, 'ep.sock')}`, connectionLifetimeMs: 60_000, dialTimeoutMs: 1000, log: silentLogger(),
});

/** The real dial, remembering every channel it opened. */
function recordingDial() {
  const channels: Channel[] = [];
  const recording: typeof dial = async (address, o) => {
    const channel = await dial(address, o);
    channels.push(channel);
    return channel;
  };
  return { channels, dial: recording, allClosed: () => channels.every((c) => c.client.getChannel().getConnectivityState(false) === connectivityState.SHUTDOWN) };
}

t.test('after the forwarder restarts, the endpoint registers again at once, not at its next refresh', async (t) => {
  const socket = socketOf('restart');
  const first = await forwarderRegistry(socket, 'first');
  const registration = new EndpointRegistration(options(socket)).start();
  t.teardown(() => registration.stop());
  await registration.ready;
  t.ok(first.registered(), 'registered with the first forwarder');
  await first.stop();

  // A 60 s lifetime puts the next refresh 20 s away; the new forwarder must hear from it long before.
  const second = await forwarderRegistry(socket, 'second');
  t.teardown(() => second.stop());
  t.ok(await within(5000, second.registered), 'registered with the restarted forwarder within 5 s');
});

t.test('states: idle, registering, registered; stop() unregisters and leaves no wait and no channel behind', async (t) => {
  const socket = socketOf('states');
  const fwd = await forwarderRegistry(socket, 'states');
  t.teardown(() => fwd.stop());
  const clock = new VirtualClock();
  clock.hold = () => true;
  const dialer = recordingDial();
  const registration = new EndpointRegistration(options(socket), { clock, dial: dialer.dial });
  t.equal(registration.state, 'idle');
  registration.start();
  t.equal(registration.state, 'registering');
  await registration.ready;
  t.equal(registration.state, 'registered');
  t.ok(fwd.registered());
  t.equal(clock.waiting.length, 1, 'one wait: the refresh');
  t.ok(clock.waiting[0] > 15_000 && clock.waiting[0] <= 20_000, `refresh at a third of the 60 s lifetime (${clock.waiting[0]} ms)`);

  await registration.stop();
  t.equal(registration.state, 'stopped');
  t.notOk(fwd.registered(), 'unregistered');
  t.same(clock.waiting, [], 'no wait left');
  t.ok(dialer.channels.length >= 1 && dialer.allClosed(), `every channel it opened is closed (${dialer.channels.length})`);
  await registration.stop();
  t.equal(registration.state, 'stopped', 'a second stop is harmless');
});

t.test('services: registered once per channel, so a refresh keeps what changed on them since; a new channel registers them again', async (t) => {
  const socket = socketOf('services');
  const first = await forwarderRegistry(socket, 'services-1');
  const clock = new VirtualClock();
  clock.hold = (ms) => ms > 1000; // refreshes wait until rung; retries pass at once
  const registration = new EndpointRegistration(options(socket), { clock });
  t.teardown(() => registration.stop());
  await registration.start().ready;
  t.equal(first.backend.services.get('svc')?.payload, 'ETHERNET', 'the service registered with its payload');
  await first.backend.services.put({ ...first.backend.services.get('svc')!, matches: [{ sourceSelector: { app: 'a' }, routes: [], fallthrough: false, metadata: undefined }] });

  const waitsBefore = clock.sleeps.length;
  clock.ring();
  t.ok(await within(5000, () => clock.sleeps.length === waitsBefore + 1 && clock.waiting.length === 1), 'refreshed, and waiting for the next refresh');
  t.equal(first.backend.services.get('svc')?.matches.length, 1, 'the refresh left the service as it was changed');

  await first.stop();
  const second = await forwarderRegistry(socket, 'services-2');
  t.teardown(() => second.stop());
  t.ok(await within(5000, second.registered), 'registered with the restarted forwarder');
  t.equal(second.backend.services.get('svc')?.payload, 'ETHERNET', 'and the services with it, on the new channel');
  t.ok(clock.time < 2 * 20_000, `the refresh wait was cut short by the lost channel, not run out (${clock.time} ms of virtual time)`);
});

t.test('while the forwarder is unreachable: retried every second, waiting in between; registered once it answers', async (t) => {
  const socket = socketOf('late');
  const clock = new VirtualClock();
  const registration = new EndpointRegistration({ ...options(socket), dialTimeoutMs: 100 }, { clock });
  t.teardown(() => registration.stop());
  registration.start();
  t.ok(await within(5000, () => clock.sleeps.length >= 2), 'failed and retried');
  clock.hold = () => true;
  t.ok(await within(5000, () => clock.waiting.length === 1), 'waiting to retry');
  t.equal(registration.state, 'waiting');
  t.ok(clock.sleeps.every((ms) => ms === 1000), `every retry a second after the failure (${clock.sleeps.join(', ')})`);

  const fwd = await forwarderRegistry(socket, 'late');
  t.teardown(() => fwd.stop());
  clock.ring();
  await registration.ready;
  t.equal(registration.state, 'registered');
  t.ok(fwd.registered());
});

t.test('stop() while waiting to retry: no wait left, stopped', async (t) => {
  const clock = new VirtualClock();
  clock.hold = () => true;
  const dialer = recordingDial();
  const registration = new EndpointRegistration({ ...options(socketOf('nobody')), dialTimeoutMs: 100 }, { clock, dial: dialer.dial });
  registration.start();
  t.ok(await within(5000, () => clock.waiting.length === 1), 'waiting to retry');
  await registration.stop();
  t.equal(registration.state, 'stopped');
  t.same(clock.waiting, []);
  t.same(dialer.channels, [], 'no channel was ever opened');
});
