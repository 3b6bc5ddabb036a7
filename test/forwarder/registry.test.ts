import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { NetworkServiceEndpoint } from '../../proto/api.ts';
import { defaultNamespace, openRegistry } from '../../forwarder/registry.ts';
import { startForwarder, type Forwarder } from '../../forwarder/server.ts';
import { dial } from '../../sdk/grpc/client.ts';
import { silentLogger } from '../../sdk/log.ts';
import { NSM_GROUP } from '../../sdk/registry/k8s-backend.ts';
import { RegistryClient } from '../../sdk/registry/client.ts';
import { RecordingRunner } from '../fixtures/kernel.ts';
import { FixtureApiServer } from '../fixtures/kube-api-server.ts';
import { tempDir, waitFor } from '../fixtures/netns.ts';

const NSES = { group: NSM_GROUP, version: 'v1', plural: 'networkserviceendpoints', kind: 'NetworkServiceEndpoint', namespaced: true };
const NSS = { group: NSM_GROUP, version: 'v1', plural: 'networkservices', kind: 'NetworkService', namespaced: true };

const tunnels = (ip: string) => ({ underlay: { ip, ifname: 'ul0', mtu: 1500 }, vxlanPort: 4789, order: ['VXLAN' as const], linkTypes: { vxlan: { available: true } } });

t.test('the namespace: NSM_NAMESPACE, else the service account file, else default', async (t) => {
  const dir = tempDir(t, 'k8sns');
  writeFileSync(join(dir, 'namespace'), 'nsm-system\n');
  t.equal(defaultNamespace('mine', join(dir, 'namespace')), 'mine');
  t.equal(defaultNamespace('', join(dir, 'namespace')), 'nsm-system');
  t.equal(defaultNamespace('', join(dir, 'missing')), 'default');
});

t.test('forwarders share the CRD registry: an endpoint registered through one is found by the other, across a watch restart', async (t) => {
  const api = await new FixtureApiServer().define(NSES).define(NSS).start();
  t.teardown(() => api.close());
  const dir = tempDir(t, 'k8sreg');
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, api.kubeConfig().exportConfig());
  const saved = process.env.KUBECONFIG;
  process.env.KUBECONFIG = kubeconfig;
  t.teardown(() => {
    if (saved === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = saved;
  });

  const start = async (name: string, ip: string): Promise<Forwarder> => {
    const { backend, where } = await openRegistry('', 'nsm-system', silentLogger());
    t.match(where, /^kubernetes http:\/\/127\.0\.0\.1:\d+ namespace nsm-system$/);
    const f = await startForwarder({
      name, listenOn: `unix://${join(dir, `${name}.sock`)}`, registry: backend, runner: new RecordingRunner(), log: silentLogger(),
      connectionLifetimeMs: 60_000, registrationLifetimeMs: 60_000, dialTimeoutMs: 500, requestTimeoutMs: 2000, adopt: false,
      peering: { listenOn: 'tcp://127.0.0.1:0', tunnels: tunnels(ip) },
    });
    t.teardown(async () => {
      await f.stop();
      await backend.close();
    });
    return f;
  };
  const a = await start('node-a', '127.0.0.1');
  const b = await start('node-b', '127.0.0.2');
  const channel = await dial(`unix://${join(dir, 'node-a.sock')}`);
  t.teardown(() => channel.close());
  const client = new RegistryClient(channel);
  const nse = (name: string) => NetworkServiceEndpoint.fromPartial({ name, networkServiceNames: ['svc'], url: `unix://${join(dir, `${name}.sock`)}` });
  // The forwarder registers only a socket its caller serves: this process serves both.
  for (const name of ['nse-1', 'nse-2']) {
    const server = createServer().listen(join(dir, `${name}.sock`));
    t.teardown(() => server.close());
    await once(server, 'listening');
  }

  const answered = await client.registerEndpoint(nse('nse-1'));
  t.equal(answered.url, nse('nse-1').url, 'the endpoint hears back its own socket');
  const spec = () => api.get('networkserviceendpoints', 'nse-1', 'nsm-system', NSM_GROUP)?.spec as { url?: string } | undefined;
  t.equal(spec()?.url, a.peering!.url, 'the CR carries the peer URL of the forwarder it registered through');
  const seenByB = (name: string) => b.peering!.registry.endpoints.get(name);
  await waitFor('node-b sees nse-1', () => seenByB('nse-1'));
  t.equal(seenByB('nse-1')!.url, a.peering!.url, 'node-b would call node-a');
  t.equal(b.peering!.registry.locality(seenByB('nse-1')!), 'remote');
  t.equal(a.peering!.registry.locality(a.peering!.registry.endpoints.get('nse-1')!), 'local', 'node-a serves it locally');

  api.expireWatches('networkserviceendpoints');
  await client.registerEndpoint(nse('nse-2'));
  await waitFor('node-b sees nse-2 after the watch restarted', () => seenByB('nse-2'));
  await client.unregisterEndpoint(nse('nse-1'));
  await waitFor('node-b sees nse-1 go', () => seenByB('nse-1') === undefined);
  t.pass('registrations, a forced watch restart and an unregister all reach the other forwarder');
});
