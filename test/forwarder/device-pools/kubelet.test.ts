import t from 'tap';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { KubeletRegistration, pluginSocketName } from '../../../forwarder/device-pools/kubelet.ts';
import { PodResourcesWatch } from '../../../forwarder/device-pools/pod-resources.ts';
import { DevicePool, type Member } from '../../../forwarder/device-pools/pool.ts';
import { newToken, TOKEN } from '../../../forwarder/device-pools/tokens.ts';
import { DevicePluginDefinition } from '../../../proto/gen/deviceplugin/v1beta1/api.ts';
import { isNsmError } from '../../../sdk/errors.ts';
import { dial, unary } from '../../../sdk/grpc/client.ts';
import { silentLogger } from '../../../sdk/log.ts';
import { startKubelet } from '../../fixtures/kubelet.ts';
import { tempDir, waitFor, type T } from '../../fixtures/netns.ts';

const RESOURCE = 'nsm.example.com/radio';
const config = { resource: RESOURCE, service: 'radio', devices: ['radio0', 'radio1'], excludePrefixes: [], routes: [] };
const member = (device: string): Member => ({ device, token: newToken(), healthy: true, place: { kind: 'free' } });

async function setUp(t: T, withPodResources = true) {
  const dir = tempDir(t, 'dp-kubelet');
  const kubelet = await startKubelet(t, dir, withPodResources);
  const pool = new DevicePool(config, 'node1-nsm.example.com-radio', [member('radio0'), member('radio1')]);
  const registration = new KubeletRegistration([pool], { dir: kubelet.pluginDir, checkEveryMs: 100, log: silentLogger() });
  await registration.start();
  t.teardown(() => registration.stop());
  return { dir, kubelet, pool, registration };
}

t.test('a pool registers with the kubelet, which asks its options inside Register and watches its devices', async (t) => {
  const { kubelet, pool, registration } = await setUp(t);
  const devices = await kubelet.devicesWhen(RESOURCE, (d) => d.length === 2, 'the pool\'s devices at the kubelet');
  t.same(devices, pool.devices(), 'every member by its token');
  t.ok(devices.every((d) => TOKEN.test(d.ID) && d.ID.length === 42 && d.health === 'Healthy'), 'tokens as upstream writes them, healthy');
  const plugin = kubelet.plugins.get(RESOURCE)!;
  t.equal(plugin.endpoint, pluginSocketName(RESOURCE), 'the endpoint is a file name in the plugin directory');
  t.same(plugin.options, { preStartRequired: false, getPreferredAllocationAvailable: false });
  t.equal(registration.registrations, 1);

  pool.members[1].healthy = false;
  pool.changed();
  await kubelet.devicesWhen(RESOURCE, (d) => d[1]?.health === 'Unhealthy', 'the change streamed to the kubelet');
  pool.members[1].healthy = true;
  pool.changed();
  await kubelet.devicesWhen(RESOURCE, (d) => d.every((x) => x.health === 'Healthy'), 'healthy again');
});

t.test('Allocate answers upstream\'s env var with the container\'s tokens; the kubelet refuses a pod it cannot place', async (t) => {
  const { kubelet, pool } = await setUp(t);
  await kubelet.devicesWhen(RESOURCE, (d) => d.length === 2, 'the pool at the kubelet');
  const env = await kubelet.admit({ name: 'client-a', namespace: 'demo' }, 'nsc-init', RESOURCE, 1);
  t.same(Object.keys(env), ['NSM_SRIOV_TOKENS_nsm.example.com/radio'], 'the resource name as it is, "." and "/" kept');
  const first = env['NSM_SRIOV_TOKENS_nsm.example.com/radio'];
  t.ok(pool.member(first), 'a token of the pool');
  const both = await kubelet.admit({ name: 'client-b', namespace: 'demo' }, 'nsc-init', RESOURCE, 1);
  t.not(both['NSM_SRIOV_TOKENS_nsm.example.com/radio'], first, 'the second pod gets the other token');
  await t.rejects(kubelet.admit({ name: 'client-c', namespace: 'demo' }, 'nsc-init', RESOURCE, 1), /UnexpectedAdmissionError: requested 1 of nsm\.example\.com\/radio, 0 healthy and free of 2/);
  kubelet.forget({ name: 'client-a', namespace: 'demo' });
  t.same(await kubelet.admit({ name: 'client-c', namespace: 'demo' }, 'nsc-init', RESOURCE, 1), env, 'a forgotten pod\'s device goes to the next');

  // Allocate of an id the pool does not have fails, as the API asks, and names what it has.
  const channel = await dial(`unix://${join(kubelet.pluginDir, pluginSocketName(RESOURCE))}`);
  t.teardown(() => channel.close());
  const err = await unary(channel, DevicePluginDefinition, DevicePluginDefinition.methods.allocate, { containerRequests: [{ devicesIds: ['sriov-nope'] }] }).catch((e: unknown) => e);
  t.ok(isNsmError(err, 'INVALID_ARGUMENT'));
  t.match((err as Error).message, /device pool nsm\.example\.com\/radio has no device sriov-nope; its devices are sriov-/);
  const two = await unary(channel, DevicePluginDefinition, DevicePluginDefinition.methods.allocate, { containerRequests: [{ devicesIds: pool.devices().map((d) => d.ID) }] });
  t.equal(two.containerResponses[0].envs['NSM_SRIOV_TOKENS_nsm.example.com/radio'], pool.devices().map((d) => d.ID).join(','), 'several tokens comma-separated');
  const preferred = await unary(channel, DevicePluginDefinition, DevicePluginDefinition.methods.getPreferredAllocation, {
    containerRequests: [{ availableDeviceIDs: ['a', 'b', 'c'], mustIncludeDeviceIDs: ['c'], allocationSize: 2 }],
  });
  t.same(preferred.containerResponses[0].deviceIDs, ['c', 'a'], 'a preference with what must be included first');
});

t.test('a kubelet restart (directory emptied, kubelet.sock created anew): the pool listens again and registers by itself', async (t) => {
  const { kubelet, registration } = await setUp(t);
  await kubelet.devicesWhen(RESOURCE, (d) => d.length === 2, 'the first registration');
  await kubelet.restart();
  t.same(readdirSync(kubelet.pluginDir).filter((f) => f !== 'kubelet.sock').length <= 1, true, 'the kubelet emptied the directory');
  await waitFor('a second registration', () => registration.registrations >= 2 && kubelet.plugins.get(RESOURCE)?.streaming);
  await kubelet.devicesWhen(RESOURCE, (d) => d.length === 2 && d.every((x) => x.health === 'Healthy'), 'the devices at the restarted kubelet');
  t.ok(existsSync(join(kubelet.pluginDir, pluginSocketName(RESOURCE))), 'the plugin serves a fresh socket');
});

t.test('a kubelet that starts after the pool: the pool registers once kubelet.sock appears', async (t) => {
  const dir = tempDir(t, 'dp-late');
  const pool = new DevicePool(config, 'n', [member('radio0')]);
  const registration = new KubeletRegistration([pool], { dir: join(dir, 'device-plugins'), checkEveryMs: 100, log: silentLogger() });
  await registration.start();
  t.teardown(() => registration.stop());
  const kubelet = await startKubelet(t, dir);
  await kubelet.devicesWhen(RESOURCE, (d) => d.length === 1, 'the registration after the kubelet came');
});

t.test('the kubelet refuses a wrong version or resource name; the plugin must serve before it registers', async (t) => {
  const dir = tempDir(t, 'dp-refuse');
  const kubelet = await startKubelet(t, dir);
  const channel = await dial(`unix://${kubelet.socket}`);
  t.teardown(() => channel.close());
  const { RegistrationDefinition } = await import('../../../proto/gen/deviceplugin/v1beta1/api.ts');
  const register = (req: { version: string; endpoint: string; resourceName: string }) => unary(channel, RegistrationDefinition, RegistrationDefinition.methods.register, req).catch((e: unknown) => e as Error);
  t.match(await register({ version: 'v1alpha', endpoint: 'x.sock', resourceName: RESOURCE }), /version "v1alpha" is not supported/);
  t.match(await register({ version: 'v1beta1', endpoint: 'x.sock', resourceName: 'sriov.nsm.xyz.io' }), /invalid extended resource name/);
  t.match(await register({ version: 'v1beta1', endpoint: 'nobody.sock', resourceName: RESOURCE }), /nothing serves .*nobody\.sock: a plugin serves its socket before it registers/, 'nothing serves the endpoint');
});

t.test('PodResources: a lent device whose token no pod holds for two polls in a row is freed; without the socket, one warning', async (t) => {
  const { kubelet, pool } = await setUp(t);
  await kubelet.devicesWhen(RESOURCE, (d) => d.length === 2, 'registered');
  const env = await kubelet.admit({ name: 'client-a', namespace: 'demo' }, 'nsc-init', RESOURCE, 1);
  const m = pool.member(env['NSM_SRIOV_TOKENS_nsm.example.com/radio'])!;
  m.place = { kind: 'lent', lease: { connId: 'c', member: m, held: { release() {} } as never, ifname: 'nsm-1' } };
  const freed: string[] = [];
  const watch = new PodResourcesWatch({ dir: kubelet.podResourcesDir, log: silentLogger(), free: async (_p, token) => void freed.push(token) });
  await watch.poll([pool]);
  t.same(freed, [], 'held by its pod');
  kubelet.forget({ name: 'client-a', namespace: 'demo' });
  await watch.poll([pool]);
  t.same(freed, [], 'one poll without it is not enough (a pod admitted between polls)');
  await watch.poll([pool]);
  t.same(freed, [m.token], 'two are');

  const warnings: string[] = [];
  const log = { ...silentLogger(), warn: (_o: unknown, msg: string) => void warnings.push(msg), info: () => {} } as unknown as ReturnType<typeof silentLogger>;
  const none = new PodResourcesWatch({ dir: join(kubelet.podResourcesDir, 'nowhere'), log, free: async () => void t.fail('nothing to free') });
  await none.poll([pool]);
  await none.poll([pool]);
  t.equal(warnings.length, 1, 'logged once');
  t.match(warnings[0], /PodResources API cannot be reached: pool devices of pods that end without a Close come back only when their connections expire/);
});
