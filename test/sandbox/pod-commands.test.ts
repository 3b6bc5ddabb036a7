import t from 'tap';
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The sandbox's state directory is fixed when its modules load: this file's own.
const stateDir = mkdtempSync(join(tmpdir(), 'nsm-pod-commands-'));
process.env.NSM_SANDBOX_DIR = stateDir;
t.teardown(() => rmSync(stateDir, { recursive: true, force: true }));
const { annotate, exec } = await import('../../sandbox/pod-commands.ts');
const { loadState, saveState } = await import('../../sandbox/state.ts');
const { parseDownwardMap } = await import('../../sdk/k8s/downward-api.ts');

const podinfo = join(stateDir, 'pods', 'alpine', 'volumes', 'nsm-podinfo');

function freshSandbox() {
  rmSync(join(stateDir, 'pods'), { recursive: true, force: true });
  saveState({
    pods: [{
      name: 'alpine',
      netns: 'nsmsb-alpine',
      namespace: 'default',
      labels: { app: 'alpine' },
      annotations: { 'networkservicemesh.io': 'kernel://a/nsm-1', note: 'x' },
      downward: [{ dir: podinfo, items: [{ path: 'annotations', fieldPath: 'metadata.annotations' }, { path: 'ns', fieldPath: 'metadata.annotations[\'networkservicemesh.io\']' }] }],
      envs: { 'cmd-nsc': { NSM_CLIENT_API: 'unix:///tmp/x/nsc.sock', NSM_NAME: 'alpine' } },
    }],
    procs: [],
  });
}

const said = () => {
  const lines: string[] = [];
  return { lines, say: (l: string) => void lines.push(l) };
};

t.test('annotate changes the pod\'s annotations and rewrites its downward API volumes', async (t) => {
  freshSandbox();
  const out = said();
  annotate(['alpine', 'networkservicemesh.io=kernel://a/nsm-1,kernel://b/nsm-2', 'extra=say "hi"', 'note-', '--overwrite'], out.say);
  t.same(out.lines, ['pod/alpine annotated']);
  const expected = { 'networkservicemesh.io': 'kernel://a/nsm-1,kernel://b/nsm-2', extra: 'say "hi"' };
  t.same(loadState()?.pods[0].annotations, expected, 'set, added and removed in the state');
  t.same(parseDownwardMap(readFileSync(join(podinfo, 'annotations'), 'utf8')), expected, 'the whole map, as the kubelet writes it');
  t.equal(readFileSync(join(podinfo, 'ns'), 'utf8'), 'kernel://a/nsm-1,kernel://b/nsm-2', 'one annotation, as its value');
  t.equal(readlinkSync(join(podinfo, 'annotations')), join('..data', 'annotations'), 'each file a link through ..data');

  annotate(['alpine', 'extra=say "hi"'], out.say);
  t.same(loadState()?.pods[0].annotations, expected, 'the same value again needs no --overwrite');
  annotate(['alpine', 'missing-'], out.say);
  t.same(loadState()?.pods[0].annotations, expected, 'removing a key the pod does not have is no change');
});

t.test('annotate refuses what kubectl annotate refuses, and changes nothing', async (t) => {
  freshSandbox();
  const before = readFileSync(join(stateDir, 'state.json'), 'utf8');
  const out = said();
  t.throws(() => annotate(['alpine', 'networkservicemesh.io=kernel://b/nsm-1'], out.say), {
    code: 'FAILED_PRECONDITION',
    message: "--overwrite is false but found the following declared annotation(s): 'networkservicemesh.io' already has a value (kernel://a/nsm-1)",
  });
  t.throws(() => annotate(['alpine', 'networkservicemesh.io'], out.say), { code: 'INVALID_ARGUMENT', message: '"networkservicemesh.io": write KEY=VALUE to set an annotation, or KEY- to remove it' });
  t.throws(() => annotate(['alpine', 'bad key=1'], out.say), { code: 'INVALID_ARGUMENT', message: /^"bad key" is not a valid annotation key/ });
  t.throws(() => annotate(['alpine', `${'a'.repeat(64)}=1`], out.say), { code: 'INVALID_ARGUMENT', message: /is not a valid annotation key/ }, 'a name longer than 63');
  t.throws(() => annotate(['alpine', '--overwrite'], out.say), { code: 'INVALID_ARGUMENT', message: /^annotate needs KEY=VALUE or KEY- after the pod name/ });
  t.throws(() => annotate(['nobody', 'a=1'], out.say), { code: 'NOT_FOUND', message: 'pod "nobody" is not in the sandbox (pods: alpine)' });
  t.throws(() => annotate([], out.say), { code: 'NOT_FOUND', message: 'pod "" is not in the sandbox (pods: alpine)' });
  t.equal(readFileSync(join(stateDir, 'state.json'), 'utf8'), before, 'the state is as it was');
  t.same(out.lines, [], 'nothing said');

  rmSync(join(stateDir, 'state.json'));
  t.throws(() => annotate(['alpine', 'a=1'], out.say), { code: 'FAILED_PRECONDITION', message: 'the sandbox is not up: run nsm sandbox up first' });
});

t.test('exec names what is missing before it runs anything', async (t) => {
  freshSandbox();
  t.throws(() => exec(['alpine']), { code: 'INVALID_ARGUMENT', message: /^exec needs a command after --/ });
  t.throws(() => exec(['alpine', '--']), { code: 'INVALID_ARGUMENT', message: /^exec needs a command after --/ });
  t.throws(() => exec(['alpine', '-c', 'app', '--', 'true']), { code: 'NOT_FOUND', message: 'pod alpine has no running nsm container app (containers: cmd-nsc)' });
  t.throws(() => exec(['alpine', '-c', '--', 'true']), { code: 'NOT_FOUND', message: /has no running nsm container {2}\(containers: cmd-nsc\)/ }, '-c without a name');
  t.throws(() => exec(['ghost', '--', 'true']), { code: 'NOT_FOUND', message: /^pod "ghost" is not in the sandbox/ });
});
