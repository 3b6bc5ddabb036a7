import t from 'tap';
import { injectAsWebhook } from '../../sandbox/webhook-injection.ts';
import { containerEnv, networkServiceOf, nsmArgs, podsOf } from '../../sandbox/apply.ts';
import { paths } from '../../sandbox/state.ts';
import type { Pod } from '../../sandbox/workload.ts';

const pod: Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'alpine', annotations: { 'networkservicemesh.io': 'kernel://k2k/nsm-1' } }, spec: { containers: [{ name: 'app', image: 'alpine' }] } };
/** The injected pod with the arrays the injection always writes. */
const injected = (p: Pod) => injectAsWebhook(p) as Pod & { spec: Required<Pod['spec']>; metadata: { annotations: Record<string, string> } };

t.test('pods go through the webhook\'s injection: init container, sidecar, volumes appended to user arrays', async (t) => {
  const out = injected(pod);
  t.same(out.spec.containers.map((c: { name: string }) => c.name), ['app', 'nsm-sidecar']);
  t.same(nsmArgs(out.spec.initContainers[0]), ['nsc', 'init']);
  t.same(nsmArgs(out.spec.containers[1]), ['nsc', 'run']);
  t.equal(nsmArgs(out.spec.containers[0]), undefined, 'other containers are not nsm');
  t.equal(out.spec.volumes.find((v) => v.name === 'nsm-socket')?.hostPath?.path, '/var/lib/networkservicemesh');
  t.ok(out.metadata.annotations['networkservicemesh.io/status'], 'the status annotation is recorded as in a cluster');
  t.equal(pod.spec.containers?.length, 1, 'the input is not changed');
  t.same(injectAsWebhook({ ...pod, metadata: { name: 'plain' } }).spec, pod.spec, 'no annotation, no change');
  t.same(nsmArgs({ name: 'x', command: ['nsm', 'nse'] }), ['nse']);
});

t.test('a malformed annotation is refused with the webhook\'s message', async (t) => {
  t.throws(() => injectAsWebhook({ ...pod, metadata: { name: 'bad', annotations: { 'networkservicemesh.io': 'vxlan://x/nsm-1' } } }), { code: 'INVALID_ARGUMENT', message: /pod bad: .*unknown mechanism "vxlan"/ });
});

t.test('container env: downward API, $(VAR), socket path mapped into the sandbox node', async (t) => {
  const out = injected(pod);
  const env = containerEnv(out, out.spec.initContainers[0]);
  t.equal(env.NSM_NAME, 'alpine');
  t.equal(env.NSM_NETWORK_SERVICES, 'kernel://k2k/nsm-1');
  t.equal(env.NSM_CONNECT_TO, `unix://${paths.nodeDir('node1')}/nsm.io.sock`);
  t.match(env.NSM_CONNECTIONS_DIR, /pods\/alpine\/volumes\/nsm-connections$/, 'the emptyDir lives in the pod\'s directory');
  t.equal(env.NSM_METRICS_LISTEN_ON, undefined, 'nsc init serves no metrics');
  t.equal(containerEnv(out, out.spec.containers[1]).NSM_METRICS_LISTEN_ON, ':9093', 'the sidecar (nsc run) serves metrics in the pod\'s namespace');
});

t.test('container env: the live parts map into the pod\'s directory', async (t) => {
  const out = injected(pod);
  const run = containerEnv(out, out.spec.containers[1]);
  t.equal(run.NSM_CLIENT_API, `unix://${paths.pod('alpine')}/volumes/nsm-client-api/nsc.sock`, 'the client API socket in the shared emptyDir');
  t.equal(run.NSM_POD_ANNOTATIONS, `${paths.pod('alpine')}/volumes/nsm-podinfo/annotations`, 'the annotations file in the downward API volume');
  t.equal(run.POD_NAMESPACE, 'default');
  t.equal(containerEnv(out, out.spec.initContainers[0]).NSM_CLIENT_API, undefined, 'nsc init has no client API');
  const own: Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'hand' }, spec: { containers: [{ name: 'c', command: ['nsm', 'nsc', 'run'] }, { name: 'e', command: ['nsm', 'nse'] }] } };
  t.equal(containerEnv(own, own.spec.containers![0]).NSM_CLIENT_API, `unix://${paths.pod('hand')}/nsc.sock`, 'an nsc run without the volume: its pod\'s directory, never the host\'s /var/run/nsm');
  t.equal(containerEnv(own, own.spec.containers![1]).NSM_CLIENT_API, undefined, 'only nsc run gets one');
});

t.test('deployments become named replicas; NetworkService spec is read as the CRD writes it', async (t) => {
  const pods = podsOf({ kind: 'Deployment', metadata: { name: 'nse' }, spec: { replicas: 2, template: { spec: { containers: [] } } } });
  t.same(pods.map((p) => p.metadata.name), ['nse-0', 'nse-1']);
  const ns = networkServiceOf({ metadata: { name: 's' }, spec: { payload: 'IP', matches: [{ source_selector: { app: 'a' }, routes: [{ destination_selector: { x: 'y' } }] }] } });
  t.same([ns.payload, ns.matches[0].sourceSelector, ns.matches[0].routes[0].destinationSelector], ['IP', { app: 'a' }, { x: 'y' }]);
});
