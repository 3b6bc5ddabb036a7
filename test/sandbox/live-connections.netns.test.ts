import t from 'tap';
import { join } from 'node:path';
import { link, ROOT, waitFor, whyNoKernelTests } from '../fixtures/netns.ts';
import { isolatedSandbox } from '../fixtures/sandbox.ts';

const skip = whyNoKernelTests();
const example = join(ROOT, 'examples', 'live-connections');
const annotation = (value: string) => `networkservicemesh.io=${value}`;

t.test('examples/live-connections in the sandbox: the annotation edited, an application asking, the interfaces follow', { skip, timeout: 180_000 }, async (t) => {
  const sandbox = isolatedSandbox(t, 'sl');
  t.equal((await sandbox(['up'])).code, 0);
  const applied = await sandbox(['apply', '-f', example]);
  t.equal(applied.code, 0, applied.stderr);
  const pod = `${sandbox.prefix}live-client`;
  t.ok(link(pod, 'nsm-1'), 'created with nsm-1');
  const first = link(pod, 'nsm-1')!.ifindex;

  const refused = await sandbox(['annotate', 'live-client', annotation('kernel://live-a/nsm-1,kernel://live-b/nsm-2')]);
  t.equal(refused.code, 1, 'an annotation with a value is not changed without --overwrite');
  t.match(refused.stderr, /--overwrite is false but found the following declared annotation\(s\): 'networkservicemesh.io' already has a value \(kernel:\/\/live-a\/nsm-1\)/);

  const added = await sandbox(['annotate', 'live-client', annotation('kernel://live-a/nsm-1,kernel://live-b/nsm-2'), '--overwrite']);
  t.equal(added.code, 0, added.stderr);
  t.match(added.stdout, /^pod\/live-client annotated$/m);
  await waitFor('nsm-2 in the pod', () => link(pod, 'nsm-2'), 15_000);
  t.equal(link(pod, 'nsm-1')?.ifindex, first, 'nsm-1 untouched');

  const asked = await sandbox(['exec', 'live-client', '--', 'nsm', 'nsc', 'request', 'kernel://live-c/app-1']);
  t.equal(asked.code, 0, asked.stderr);
  t.match(asked.stdout, /^app-1\s+live-c\s+nse-live-c\s+172\.16\.12\.\d+\/32\s+UP\s+live-client-app-1$/m);
  t.ok(link(pod, 'app-1'), 'the application\'s interface is in the pod');
  const taken = await sandbox(['exec', 'live-client', '--', 'nsm', 'nsc', 'request', 'kernel://live-c/nsm-1']);
  t.equal(taken.code, 2, 'a name in use is refused');
  t.match(taken.stderr, /interface name nsm-1 is already used in this pod/);

  const listed = await sandbox(['exec', 'live-client', '--', 'nsm', 'nsc', 'list']);
  t.equal(listed.code, 0, listed.stderr);
  t.match(listed.stdout, /^INTERFACE\s+SERVICE\s+ENDPOINT\s+ADDRESSES\s+STATE\s+ID$/m);
  for (const row of [/^nsm-1\s+live-a\s+nse-live-a\s+172\.16\.10\.\d+\/32\s+UP\s+live-client-0$/m, /^nsm-2\s+live-b\s+nse-live-b\s+172\.16\.11\.\d+\/32\s+UP\s+live-client-nsm-2$/m, /^app-1\s+live-c/m]) t.match(listed.stdout, row);

  const removed = await sandbox(['annotate', 'live-client', annotation('kernel://live-a/nsm-1'), '--overwrite']);
  t.equal(removed.code, 0, removed.stderr);
  await waitFor('nsm-2 gone from the pod', () => !link(pod, 'nsm-2'), 15_000);
  const closed = await sandbox(['exec', 'live-client', '--', 'nsm', 'nsc', 'close', 'app-1']);
  t.equal(closed.code, 0, closed.stderr);
  await waitFor('app-1 gone from the pod', () => !link(pod, 'app-1'), 15_000);
  t.equal(link(pod, 'nsm-1')?.ifindex, first, 'nsm-1 never touched');
  const status = await sandbox(['status']);
  t.match(status.stdout, /^live-client\s+node1\s+nsm-1\s/m);
  t.notMatch(status.stdout, /^live-client\s+node1\s+(nsm-2|app-1)\s/m);
});
