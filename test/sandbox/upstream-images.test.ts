import t from 'tap';
import { isClient, placePod, sandboxCommand } from '../../sandbox/apply.ts';
import { selects } from '../../sandbox/label-selector.ts';
import type { Manifest, Pod } from '../../sandbox/workload.ts';
import { imageName, upstreamImage, UPSTREAM_IMAGES } from '../../sandbox/upstream-images.ts';

t.test('upstream image names: registry, path, tag and digest dropped', async (t) => {
  t.equal(imageName('ghcr.io/networkservicemesh/ci/cmd-nsc:v1.14.0'), 'cmd-nsc');
  t.equal(imageName('ghcr.io/networkservicemesh/cmd-nsc-init@sha256:abc'), 'cmd-nsc-init');
  t.equal(imageName('localhost:5000/cmd-nse-icmp-responder:972d66a'), 'cmd-nse-icmp-responder', 'a registry port is not a tag');
  t.equal(imageName('cmd-nsc'), 'cmd-nsc');
  t.same(UPSTREAM_IMAGES.map((u) => [u.name, u.args.join(' ')]), [['cmd-nse-icmp-responder', 'nse'], ['cmd-nsc', 'nsc run'], ['cmd-nsc-init', 'nsc init']]);
  t.equal(upstreamImage('ghcr.io/networkservicemesh/cmd-nsc-vpp:v1'), undefined, 'only images whose function nsm has');
  t.equal(upstreamImage(undefined), undefined);
});

t.test('what the sandbox runs for a container', async (t) => {
  t.same(sandboxCommand('p', { name: 'c', command: ['nsm', 'nse'] }), { args: ['nse'] }, 'an nsm container as it is, without a note');
  t.same(sandboxCommand('p', { name: 'nsc', image: 'ghcr.io/networkservicemesh/cmd-nsc:v1.14.0' }), {
    args: ['nsc', 'run'],
    note: 'pod/p: container nsc (upstream image ghcr.io/networkservicemesh/cmd-nsc:v1.14.0) runs as nsm nsc run with its own env',
  });
  t.equal(sandboxCommand('p', { name: 'app', image: 'alpine:3.20' }), undefined, 'anything else is not run');
});

t.test('podAffinity with matchLabels or matchExpressions places a pod beside its peer', async (t) => {
  const state = { nodes: [{ name: 'node1', netns: 'a', ip: '' }, { name: 'node2', netns: 'b', ip: '' }], pods: [{ name: 'nse-0', netns: 'x', node: 'node2', labels: { app: 'nse-kernel' } }], procs: [], placed: 0 };
  const pod = (labelSelector: unknown) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'c' }, spec: { affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector }] } } } }) as Pod;
  t.equal(placePod(state, pod({ matchExpressions: [{ key: 'app', operator: 'In', values: ['nse-kernel'] }] })), 'node2');
  t.equal(placePod(state, pod({ matchLabels: { app: 'nse-kernel' } })), 'node2');
  t.throws(() => placePod(state, pod({ matchExpressions: [{ key: 'app', operator: 'In', values: ['other'] }] })), /no pod with those labels runs yet/);
  t.equal(placePod(state, pod({})), 'node1', 'an empty selector is no rule: round robin');
  const away = (labelSelector: unknown) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'c' }, spec: { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector }] } } } }) as Pod;
  const rule = { matchExpressions: [{ key: 'app', operator: 'In', values: ['nse-kernel'] }] };
  state.placed = 1;
  t.equal(placePod(state, away(rule)), 'node1', 'round robin would pick node2, where the endpoint runs: podAntiAffinity skips it');
  t.equal(state.placed, 3, 'round robin goes on after the node taken');
  const one = { ...state, nodes: [{ name: 'node2', netns: 'b', ip: '' }] };
  t.throws(() => placePod(one, away(rule)), /its podAntiAffinity rules out every node \(node2\)/);
  t.ok(selects({ matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['x'] }, { key: 'b', operator: 'DoesNotExist' }] }, { a: 'y' }));
  t.notOk(selects({ matchExpressions: [{ key: 'a', operator: 'Exists' }] }, {}));
});

t.test('clients are applied last: annotated pods and pods running a client, upstream\'s included', async (t) => {
  const pod = (spec: unknown, annotations?: Record<string, string>) => ({ kind: 'Pod', metadata: { name: 'p', ...(annotations ? { annotations } : {}) }, spec }) as Manifest;
  t.ok(isClient(pod({ containers: [{ name: 'a', image: 'alpine' }] }, { 'networkservicemesh.io': 'kernel://s/nsm-1' })));
  t.ok(isClient(pod({ initContainers: [{ name: 'i', image: 'ghcr.io/networkservicemesh/cmd-nsc-init:v1' }], containers: [] })));
  t.ok(isClient({ kind: 'Deployment', metadata: { name: 'd' }, spec: { template: { spec: { containers: [{ name: 'c', image: 'ghcr.io/networkservicemesh/cmd-nsc:v1' }] } } } }));
  t.notOk(isClient(pod({ containers: [{ name: 'nse', image: 'ghcr.io/networkservicemesh/cmd-nse-icmp-responder:v1' }] })), 'an endpoint is not');
  t.notOk(isClient({ kind: 'NetworkService', metadata: { name: 's' } }));
});
