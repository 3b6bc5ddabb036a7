import t from 'tap';
import { injectPod } from '../../sandbox/inject-pod.ts';
import { containerEnv, networkServiceOf, nsmArgs, podsOf } from '../../sandbox/apply.ts';
import { paths } from '../../sandbox/state.ts';

const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'alpine', annotations: { 'networkservicemesh.io': 'kernel://k2k/nsm-1' } }, spec: { containers: [{ name: 'app', image: 'alpine' }] } };

t.test('the adapter injects init container, sidecar and socket volume, appending to user arrays', async (t) => {
  const out = injectPod(pod);
  t.same(out.spec.containers.map((c: { name: string }) => c.name), ['app', 'nsm']);
  t.same(nsmArgs(out.spec.initContainers[0]), ['nsc', 'init']);
  t.same(nsmArgs(out.spec.containers[1]), ['nsc', 'run']);
  t.equal(nsmArgs(out.spec.containers[0]), undefined, 'other containers are not nsm');
  t.equal(out.spec.volumes[0].hostPath.path, '/var/lib/networkservicemesh');
  t.equal(pod.spec.containers.length, 1, 'the input is not changed');
  t.same(injectPod({ ...pod, metadata: { name: 'plain' } }).spec, pod.spec, 'no annotation, no change');
});

t.test('container env: downward API, $(VAR), socket path mapped into the sandbox node', async (t) => {
  const out = injectPod(pod);
  const env = containerEnv(out, out.spec.initContainers[0]);
  t.equal(env.NSM_NAME, 'alpine');
  t.equal(env.NSM_NETWORK_SERVICES, 'kernel://k2k/nsm-1');
  t.equal(env.NSM_CONNECT_TO, `unix://${paths.nodeSocketDir}/nsm.io.sock`);
  t.match(env.NSM_CONNECTIONS_DIR, /pods\/alpine\/connections$/);
});

t.test('deployments become named replicas; NetworkService spec is read as the CRD writes it', async (t) => {
  const pods = podsOf({ kind: 'Deployment', metadata: { name: 'nse' }, spec: { replicas: 2, template: { spec: { containers: [] } } } });
  t.same(pods.map((p) => p.metadata.name), ['nse-0', 'nse-1']);
  const ns = networkServiceOf({ metadata: { name: 's' }, spec: { payload: 'IP', matches: [{ source_selector: { app: 'a' }, routes: [{ destination_selector: { x: 'y' } }] }] } });
  t.same([ns.payload, ns.matches[0].sourceSelector, ns.matches[0].routes[0].destinationSelector], ['IP', { app: 'a' }, { x: 'y' }]);
});
