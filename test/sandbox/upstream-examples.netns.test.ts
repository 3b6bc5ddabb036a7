import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { kubectl } from '../fixtures/kube-cli.ts';
import { tryScrape } from '../fixtures/metrics.ts';
import { ROOT, waitFor, whyNoKernelTests } from '../fixtures/netns.ts';
import { isolatedSandbox } from '../fixtures/sandbox.ts';

const skip = whyNoKernelTests() || (spawnSync('sh', ['-c', 'command -v ping']).status === 0 ? false : 'ping (iputils-ping) is not installed');
const useCase = join(ROOT, 'test', 'fixtures', 'upstream', 'use-cases', 'Kernel2Kernel');

t.test('an upstream use-case folder runs unchanged: kubectl kustomize DIR | nsm sandbox apply -f -', { skip }, async (t) => {
  const sandbox = isolatedSandbox(t, 'ux');
  const up = await sandbox(['up']);
  t.equal(up.code, 0, up.stderr);

  const built = await kubectl(undefined, ['kustomize', useCase]);
  t.equal(built.code, 0, built.stderr);
  t.match(built.stdout, /image: ghcr\.io\/networkservicemesh\/ci\/cmd-nse-icmp-responder/, 'the endpoint keeps upstream\'s image');
  const applied = await sandbox(['apply', '-f', '-'], built.stdout);
  t.equal(applied.code, 0, applied.stderr);
  t.match(applied.stdout, /^pod\/nse-kernel-0: container nse \(upstream image ghcr\.io\/networkservicemesh\/ci\/cmd-nse-icmp-responder:0a1b2c3\) runs as nsm nse with its own env$/m, 'one line for the recognised container');
  t.match(applied.stdout, /^pod\/alpine created on node1$/m);
  t.match(applied.stdout, new RegExp(`^pod/alpine nsm-sidecar: metrics: ip netns exec ${sandbox.prefix}alpine curl http://127\\.0\\.0\\.1:9093/metrics$`, 'm'), 'where to scrape the client\'s sidecar');

  const status = await sandbox(['status']);
  t.match(status.stdout, /^alpine\s+node1\s+nsm-1\s+172\.16\.1\.101\/31\s+172\.16\.1\.100\/31\s+KERNEL\s+nse-kernel-0/m, 'the client got .101 of the /31, the endpoint .100, as upstream promises');
  const ping = spawnSync('ip', ['netns', 'exec', `${sandbox.prefix}alpine`, 'ping', '-c', '2', '-i', '0.2', '-W', '2', '172.16.1.100'], { encoding: 'utf8', timeout: 15_000 });
  t.equal(ping.status, 0, ping.stdout + ping.stderr);
  const metrics = await waitFor('the sidecar serving metrics', () => tryScrape(`${sandbox.prefix}alpine`, 9093), 15_000);
  t.match(metrics, /^nsm_nsc_connections_up\{service="[^"]+"\} 1$/m, 'the sidecar reports its connection up');
});

t.test('across nodes: Kernel2Ethernet2Kernel, the client kept off the endpoint\'s node by podAntiAffinity', { skip }, async (t) => {
  const sandbox = isolatedSandbox(t, 'uz');
  const up = await sandbox(['up', '--nodes', '2']);
  t.equal(up.code, 0, up.stderr);
  const built = await kubectl(undefined, ['kustomize', join(ROOT, 'test', 'fixtures', 'upstream', 'use-cases', 'Kernel2Ethernet2Kernel')]);
  t.equal(built.code, 0, built.stderr);
  const applied = await sandbox(['apply', '-f', '-'], built.stdout);
  t.equal(applied.code, 0, applied.stderr);
  t.match(applied.stdout, /^pod\/nse-kernel-0 created on node1$/m);
  t.match(applied.stdout, /^pod\/alpine created on node2$/m);
  const status = await sandbox(['status']);
  t.match(status.stdout, /^alpine\s+node2\s+nsm-1\s+172\.16\.1\.101\/31\s+172\.16\.1\.100\/31\s+VXLAN\s+nse-kernel-0\s+node1/m, 'a VXLAN tunnel between the nodes');
  const ping = spawnSync('ip', ['netns', 'exec', `${sandbox.prefix}alpine`, 'ping', '-c', '2', '-i', '0.2', '-W', '2', '172.16.1.100'], { encoding: 'utf8', timeout: 15_000 });
  t.equal(ping.status, 0, ping.stdout + ping.stderr);
});

t.test('sandbox apply says what a pod waits for and fails with it when the endpoint cannot start', { skip }, async (t) => {
  const sandbox = isolatedSandbox(t, 'uy');
  t.equal((await sandbox(['up'])).code, 0);
  const broken = [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata: {name: nse-broken, labels: {app: nse-broken}}',
    'spec:',
    '  selector: {matchLabels: {app: nse-broken}}',
    '  template:',
    '    metadata: {labels: {app: nse-broken}}',
    '    spec:',
    '      containers:',
    '        - name: nse',
    '          image: ghcr.io/networkservicemesh/cmd-nse-icmp-responder:v1.14.0',
    '          env: [{name: NSM_SERVICE_NAMES, value: broken}, {name: NSM_CIDR_PREFIX, value: 300.1.1.1/31}]',
    '---',
    'apiVersion: v1',
    'kind: Pod',
    'metadata: {name: waiter, annotations: {networkservicemesh.io: kernel://broken/nsm-1}}',
    'spec: {containers: [{name: app, image: alpine}]}',
  ].join('\n');
  const r = await sandbox(['apply', '-f', '-'], broken);
  t.equal(r.code, 1);
  t.match(r.stdout, /^pod\/waiter: init container nsm-sidecar-init waits for broken: network service "broken" is not registered/m, 'progress: which pod waits for what, with the client\'s error');
  t.match(r.stderr, /^nsm sandbox: pod waiter cannot start: container nse of pod nse-broken-0 exited: nsm nse: NSM_CIDR_PREFIX: "300\.1\.1\.1\/31" is not valid/m, 'the failure names the container that could not start and why');
});
