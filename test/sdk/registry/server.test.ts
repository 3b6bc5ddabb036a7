import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetworkServiceEndpoint, NetworkServiceEndpointRegistryDefinition, type NetworkServiceEndpointResponse } from '../../../proto/api.ts';
import { formatAddress } from '../../../sdk/grpc/address.ts';
import { dial, serverStream } from '../../../sdk/grpc/client.ts';
import { startGrpcServer } from '../../../sdk/grpc/server.ts';
import { silentLogger } from '../../../sdk/log.ts';
import { RegistryClient } from '../../../sdk/registry/client.ts';
import { openDirRegistry } from '../../../sdk/registry/dir-backend.ts';
import { registryBindings } from '../../../sdk/registry/server.ts';
import { within } from '../../fixtures/wait.ts';

const dir = mkdtempSync(join(tmpdir(), 'nsm-registry-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const nse = (name: string, service: string, expirationTime?: Date) => NetworkServiceEndpoint.fromPartial({ name, networkServiceNames: [service], url: `unix:///run/${name}.sock`, expirationTime });

async function setup(t: { teardown(fn: () => unknown): void }, name: string, now: () => Date) {
  const backend = await openDirRegistry(join(dir, name));
  const registry = registryBindings(backend, silentLogger(), { expirationMs: 60_000, now });
  const server = await startGrpcServer({ listenOn: `unix://${join(dir, `${name}.sock`)}`, services: registry.bindings });
  const channel = await dial(formatAddress(server.address));
  t.teardown(async () => {
    channel.close();
    await server.stop(100);
    await backend.close();
  });
  return { backend, registry, channel, client: new RegistryClient(channel) };
}

t.test('Find with watch: initial state, then updates and deletes of what this stream was sent', async (t) => {
  const { channel, client } = await setup(t, 'watch', () => new Date());
  await client.registerEndpoint(nse('a', 'svc'));
  const controller = new AbortController();
  const events: NetworkServiceEndpointResponse[] = [];
  const stream = serverStream(channel, NetworkServiceEndpointRegistryDefinition, NetworkServiceEndpointRegistryDefinition.methods.find,
    { networkServiceEndpoint: NetworkServiceEndpoint.fromPartial({ networkServiceNames: ['svc'] }), watch: true }, { signal: controller.signal });
  const reading = (async () => {
    try {
      for await (const e of stream) {
        events.push(e);
        if (events.length === 4) controller.abort();
      }
    } catch {
      // the abort ends the stream
    }
  })();
  await within(5000, () => events.length === 1); // the stream is open: the initial state came
  await client.registerEndpoint(nse('other', 'elsewhere'));
  await client.unregisterEndpoint(nse('other', 'elsewhere'));
  await client.registerEndpoint(nse('b', 'svc'));
  await client.unregisterEndpoint(nse('a', 'svc'));
  await client.unregisterEndpoint(nse('b', 'svc'));
  await within(5000, () => events.length === 4);
  controller.abort();
  await reading;
  t.same(events.map((e) => [e.networkServiceEndpoint?.name, e.deleted]), [['a', false], ['b', false], ['a', true], ['b', true]],
    'objects of other services, and their deletes, are not sent');
});

t.test('registrations are capped at the expiration period, hidden when expired, and swept', async (t) => {
  let clock = new Date('2030-01-01T00:00:00Z');
  const { backend, registry, client } = await setup(t, 'expiry', () => clock);
  const stored = await client.registerEndpoint(nse('x', 'svc', new Date('2031-01-01T00:00:00Z')));
  t.same(stored.expirationTime, new Date('2030-01-01T00:01:00Z'), 'a far expiration is capped at now + 1m');
  t.equal(await registry.sweep(), 0, 'nothing to sweep yet');
  clock = new Date('2030-01-01T00:02:00Z');
  t.equal(await registry.sweep(), 1, 'the expired registration is removed');
  t.equal(backend.endpoints.get('x'), undefined);
});
