import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger } from '../../sdk/log.ts';
import { openKubernetesRegistry } from '../../sdk/registry/k8s-backend.ts';
import { documents, kubectl, repoRoot } from '../fixtures/kube-cli.ts';
import { NETWORK_SERVICE_ENDPOINTS, NETWORK_SERVICES, startFixtureApiServer } from '../fixtures/kube-api-server.ts';

type Obj = Record<string, any>;

const examples = ['kernel2kernel', 'kernel2ethernet2kernel', 'l2-bridge', 'bridge-domain', 'device-pool', 'service-chain'].map((e) => join(repoRoot, 'examples', e));
const manifestsOf = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();
const ids = (objs: Obj[]) => objs.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`).sort();

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test('kubectl kustomize builds the manifests base: the objects of install.yaml', async (t) => {
  const built = await kubectl(undefined, ['kustomize', join(repoRoot, 'manifests')]);
  t.equal(built.code, 0, built.stderr);
  const installed = documents(readFileSync(join(repoRoot, 'manifests', 'install.yaml'), 'utf8'), 'install.yaml').map((d) => d.obj);
  const objs = documents(built.stdout, 'kustomize').map((d) => d.obj);
  t.same(ids(objs), ids(installed));
  const byId = new Map(installed.map((o) => [`${o.kind}/${o.metadata.name}`, o]));
  for (const o of objs) t.same(o, byId.get(`${o.kind}/${o.metadata.name}`), `${o.kind}/${o.metadata.name} unchanged`);
});

t.test('kubectl kustomize builds every example folder from the files beside it', async (t) => {
  for (const dir of examples) {
    const built = await kubectl(undefined, ['kustomize', dir]);
    t.equal(built.code, 0, built.stderr);
    const files = manifestsOf(dir).flatMap((f) => documents(readFileSync(join(dir, f), 'utf8'), f).map((d) => d.obj));
    t.same(ids(documents(built.stdout, dir).map((d) => d.obj)), ids(files), `${dir}: every file listed`);
  }
});

t.test('what a user does with kubectl: apply the examples\' NetworkServices, list endpoints', async (t) => {
  const api = await startFixtureApiServer(NETWORK_SERVICES, NETWORK_SERVICE_ENDPOINTS);
  api.create('namespaces', { metadata: { name: 'nsm-system' } });
  const registry = await openKubernetesRegistry({ kubeConfig: api.kubeConfig(), namespace: 'nsm-system', log: silentLogger() });
  t.teardown(async () => {
    await registry.close();
    await api.close();
  });
  const kubeconfig = api.writeKubeconfig(join(t.testdir(), 'kubeconfig'));
  for (const dir of examples) {
    const file = join(dir, '1-netsvc.yaml');
    const name = documents(readFileSync(file, 'utf8'), file)[0]?.obj.metadata.name;
    const created = await kubectl(kubeconfig, ['apply', '-f', file]);
    t.equal(created.code, 0, created.stderr);
    t.equal(created.stdout, `networkservice.networkservicemesh.io/${name} created\n`);
    const again = await kubectl(kubeconfig, ['apply', '-f', file]);
    t.equal(again.stdout, `networkservice.networkservicemesh.io/${name} unchanged\n`, 'applying again changes nothing');
    await until(`the registry sees ${name}`, () => registry.services.get(name) !== undefined);
    t.equal(registry.services.get(name)?.payload, 'ETHERNET', 'nsm reads what kubectl wrote');
  }
  const chain = registry.services.get('service-chain');
  t.same(chain?.matches.map((m) => [m.sourceSelector, m.routes.map((r) => r.destinationSelector)]), [
    [{ app: 'firewall' }, [{ app: 'inspect' }]],
    [{ app: 'inspect' }, [{ app: 'gateway' }]],
    [{}, [{ app: 'firewall' }]],
  ], 'the service chain\'s matches, as nsm reads them');
  t.ok(api.requests.some((r) => r.startsWith('POST /apis/networkservicemesh.io/v1/namespaces/nsm-system/networkservices?') && r.includes('fieldValidation=Strict')), 'kubectl left validation to the server');
  const services = await kubectl(kubeconfig, ['get', 'netsvc', '--namespace', 'nsm-system', '--output', 'name']);
  t.equal(services.stderr, '');
  t.equal(services.stdout, ['bridge-domain', 'kernel2ethernet2kernel', 'kernel2kernel', 'l2-bridge', 'radio', 'service-chain'].map((n) => `networkservice.networkservicemesh.io/${n}\n`).join(''), 'the short name works');

  const none = await kubectl(kubeconfig, ['get', 'networkserviceendpoints', '--namespace', 'nsm-system']);
  t.equal(none.stderr, 'No resources found in nsm-system namespace.\n');
  await registry.endpoints.put({
    name: 'nse-kernel-0', networkServiceNames: ['kernel2kernel'], networkServiceLabels: {}, url: 'tcp://10.0.0.7:5001',
    expirationTime: new Date(Date.now() + 60_000), initialRegistrationTime: new Date(), pathIds: [],
  });
  const listed = await kubectl(kubeconfig, ['get', 'networkserviceendpoints', '--namespace', 'nsm-system']);
  t.equal(listed.code, 0, listed.stderr);
  t.match(listed.stdout, /^NAME\s+AGE\nnse-kernel-0\s+\d+s\n$/, 'a registered endpoint, as kubectl prints it');
  const json = JSON.parse((await kubectl(kubeconfig, ['get', 'nse', '--namespace', 'nsm-system', '--output', 'json'])).stdout) as { items: Obj[] };
  t.same(json.items.map((i) => [i.metadata.name, i.spec.network_service_names, i.spec.url]), [['nse-kernel-0', ['kernel2kernel'], 'tcp://10.0.0.7:5001']], 'snake_case spec as upstream writes it');
});
