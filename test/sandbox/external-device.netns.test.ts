import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { kubectl } from '../fixtures/kube-cli.ts';
import { ROOT, whyNoKernelTests } from '../fixtures/netns.ts';
import { isolatedSandbox } from '../fixtures/sandbox.ts';

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const skip = whyNoKernelTests() || (has('ping') ? false : 'ping (iputils-ping) is not installed') || (has('jq') ? false : 'the example hook reads its input with jq (apt-get install jq)');

t.test('examples/external-device in the sandbox: a client on node1 reaches router1 over a tunnel from its node', { skip }, async (t) => {
  const sandbox = isolatedSandbox(t, 'xd');
  const up = await sandbox(['up', '--nodes', '2', '--external', 'router1']);
  t.equal(up.code, 0, up.stderr);
  t.match(up.stdout, /^device router1 up: 192\.0\.2\.1 on the underlay, outside the cluster/m);

  const built = await kubectl(undefined, ['kustomize', join(ROOT, 'examples', 'external-device')]);
  t.equal(built.code, 0, built.stderr);
  const applied = await sandbox(['apply', '-f', '-'], built.stdout);
  t.equal(applied.code, 0, applied.stderr);
  t.match(applied.stdout, /^configmap\/external-router-hook created$/m);
  t.match(applied.stdout, /^pod\/nse-external-0 created on node1$/m);
  t.match(applied.stdout, /^pod\/alpine-router created on node2$/m, 'the client kept off the endpoint\'s node');

  const status = await sandbox(['status']);
  t.match(status.stdout, /^alpine-router\s+node2\s+nsm-1\s+172\.16\.3\.2\/32\s+172\.16\.3\.1\/32\s+VXLAN\s+nse-external-0\s+node1/m, 'the client has a VXLAN tunnel');
  const device = /^router1\s+192\.0\.2\.1\s+nsm\w+\s+VXLAN\s+(\d+)\s+(\S+)\s+172\.16\.3\.1\/32$/m.exec(status.stdout);
  t.ok(device, `status shows the device's side: its tunnel and address\n${status.stdout}`);
  t.match(device?.[2], /^10\.250\.\d+\.2$/, 'its tunnel points at node2, the client\'s node');
  const ping = spawnSync('ip', ['netns', 'exec', `${sandbox.prefix}alpine-router`, 'ping', '-c', '2', '-i', '0.2', '-W', '2', '172.16.3.1'], { encoding: 'utf8', timeout: 15_000 });
  t.equal(ping.status, 0, ping.stdout + ping.stderr);

  const bad = await sandbox(['up', '--external', 'Router_1']);
  t.not(bad.code, 0);
  t.match(bad.stderr, /--external "Router_1": name a device with lower-case letters/, 'a bad device name is refused, naming the option');
});
