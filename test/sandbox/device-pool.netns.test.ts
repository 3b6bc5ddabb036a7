import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { kubectl } from '../fixtures/kube-cli.ts';
import { ROOT, whyNoKernelTests } from '../fixtures/netns.ts';
import { isolatedSandbox } from '../fixtures/sandbox.ts';

const skip = whyNoKernelTests() || (spawnSync('sh', ['-c', 'command -v ping']).status === 0 ? false : 'ping (iputils-ping) is not installed');
const example = join(ROOT, 'examples', 'device-pool');

const client = (name: string) => [
  'apiVersion: v1',
  'kind: Pod',
  `metadata: {name: ${name}, annotations: {networkservicemesh.io: "kernel://radio/nsm-1?sriovToken=nsm.example.com/radio"}}`,
  'spec: {containers: [{name: app, image: alpine}]}',
].join('\n');

t.test('examples/device-pool in the sandbox: the kubelet admits the pod, its client gets a pool device and pings the network behind the pool', { skip, timeout: 180_000 }, async (t) => {
  const sandbox = isolatedSandbox(t, 'sp');
  const refused = await sandbox(['up', '--pool', 'radio=2']);
  t.equal(refused.code, 2);
  t.match(refused.stderr, /--pool radio=2: "radio" is not an extended resource name/);

  const up = await sandbox(['up', '--pool', 'nsm.example.com/radio=2']);
  t.equal(up.code, 0, up.stderr);
  const pool = /^pool nsm\.example\.com\/radio on node1: radio0, radio1 for network service radio, the network (\S+) behind them \(gateway (\S+)\)$/m.exec(up.stdout);
  t.ok(pool, up.stdout);
  const gateway = pool?.[2] ?? '';

  const built = await kubectl(undefined, ['kustomize', example]);
  t.equal(built.code, 0, built.stderr);
  const applied = await sandbox(['apply', '-f', '-'], built.stdout);
  t.equal(applied.code, 0, applied.stderr);
  t.match(applied.stdout, /^pod\/radio-client created on node1$/m);
  const status = await sandbox(['status']);
  const subnet = gateway.split('.').slice(0, 3).join('.');
  t.match(status.stdout, new RegExp(`^radio-client\\s+node1\\s+nsm-1\\s+${subnet.replaceAll('.', '\\.')}\\.1/24\\s+${gateway.replaceAll('.', '\\.')}\\s+KERNEL\\s+\\S+-node1-nsm\\.example\\.com-radio`, 'm'), status.stdout);
  const ping = spawnSync('ip', ['netns', 'exec', `${sandbox.prefix}radio-client`, 'ping', '-c', '2', '-i', '0.2', '-W', '2', gateway], { encoding: 'utf8', timeout: 15_000 });
  t.equal(ping.status, 0, ping.stdout + ping.stderr);
  const moved = spawnSync('ip', ['-n', `${sandbox.prefix}node1`, '-br', 'link'], { encoding: 'utf8' }).stdout;
  t.equal(moved.split('\n').filter((l) => /^radio[01]@/.test(l)).length, 1, 'one of the two devices left the node\'s namespace');

  const second = await sandbox(['apply', '-f', '-'], client('radio-2'));
  t.equal(second.code, 0, second.stderr);
  const third = await sandbox(['apply', '-f', '-'], client('radio-3'));
  t.equal(third.code, 1, 'the pod cannot start');
  t.match(third.stderr, /pod radio-3 cannot start on node1: pod radio-3: UnexpectedAdmissionError: requested 1 of nsm\.example\.com\/radio, 0 healthy and free of 2/);
});
