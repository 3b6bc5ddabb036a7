import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startGrpcServer } from '../../../sdk/grpc/server.ts';
import { silentLogger } from '../../../sdk/log.ts';
import { openDirRegistry } from '../../../sdk/registry/dir-backend.ts';
import { registryBindings } from '../../../sdk/registry/server.ts';
import type { EndpointOptions } from '../../../sidecar/nse/endpoint.ts';
import { keepRegistered } from '../../../sidecar/nse/registration.ts';
import { within } from '../../fixtures/wait.ts';

const dir = mkdtempSync(join(tmpdir(), 'nsm-registration-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const socket = `unix://${join(dir, 'forwarder.sock')}`;

/** A stand-in for the forwarder's registry: real gRPC on the socket, its own directory each time. */
async function forwarderRegistry(name: string) {
  const backend = await openDirRegistry(join(dir, name));
  const registry = registryBindings(backend, silentLogger(), { expirationMs: 60_000 });
  const server = await startGrpcServer({ listenOn: socket, services: registry.bindings });
  return {
    registered: () => backend.endpoints.get('ep') !== undefined,
    stop: async () => {
      await server.stop(100);
      await backend.close();
    },
  };
}

t.test('after the forwarder restarts, the endpoint registers again at once, not at its next refresh', async (t) => {
  const first = await forwarderRegistry('first');
  const options: EndpointOptions = {
    name: 'ep', services: ['svc'], labels: {}, payload: 'ETHERNET', cidr: '10.0.0.0/24', connectTo: socket,
    listenOn: `unix://${join(dir, 'ep.sock')}`, connectionLifetimeMs: 60_000, dialTimeoutMs: 1000, log: silentLogger(),
  };
  const registration = keepRegistered(options);
  t.teardown(() => registration.stop());
  await registration.ready;
  t.ok(first.registered(), 'registered with the first forwarder');
  await first.stop();

  // A 60 s lifetime puts the next refresh 20 s away; the new forwarder must hear from it long before.
  const second = await forwarderRegistry('second');
  t.teardown(() => second.stop());
  t.ok(await within(5000, second.registered), 'registered with the restarted forwarder within 5 s');
});
