import jsonpatch from 'fast-json-patch';
import t from 'tap';
import { PatchBuilder, prepareAdd, type AddOperation } from '../../webhook/json-patch.ts';

const pod = () => ({
  metadata: { labels: { app: 'a' } },
  spec: { containers: [{ name: 'app', volumeMounts: [{ name: 'x', mountPath: '/x' }] }], volumes: [] as unknown[] },
});

const ops: AddOperation[] = [
  { op: 'add', path: '/spec/containers/0/volumeMounts/-', value: { name: 'y', mountPath: '/y' } },
  { op: 'add', path: '/spec/containers/0/volumeMounts/0', value: { name: 'first', mountPath: '/f' } },
  { op: 'add', path: '/spec/initContainers', value: [{ name: 'init' }] },
  { op: 'add', path: '/metadata/labels/example.com~1a~0b', value: 'v' },
];

t.test('replayed operations give what fast-json-patch gives, on a copy', async (t) => {
  const original = pod();
  const before = JSON.stringify(original);
  const copy = new PatchBuilder(original);
  for (const op of ops) copy.replay(prepareAdd(op));
  const expected = jsonpatch.applyPatch(pod(), structuredClone(ops), true, false).newDocument;
  t.same(JSON.parse(JSON.stringify(copy.patched)), JSON.parse(JSON.stringify(expected)));
  t.equal(JSON.stringify(original), before, 'the original is untouched');
});

t.test('a "__proto__" key is added as an own property, never as a prototype', async (t) => {
  const copy = new PatchBuilder(pod());
  copy.replay(prepareAdd({ op: 'add', path: '/metadata/labels/__proto__', value: { polluted: true } }));
  const labels = (copy.patched.metadata as { labels: Record<string, unknown> }).labels;
  t.ok(Object.hasOwn(labels, '__proto__'));
  t.equal(Object.getPrototypeOf(labels), Object.prototype);
});

t.test('an operation that does not apply throws and names its path', async (t) => {
  const refused: Array<[string, RegExp]> = [
    ['/spec/missing/-', /\/spec\/missing\/-: the parent does not exist/],
    ['/spec/containers/5', /\/spec\/containers\/5: no such array index/],
    ['/spec/containers/-1', /no such array index/],
    ['/metadata/labels/app/x', /the parent does not exist/],
  ];
  for (const [path, message] of refused) {
    const copy = new PatchBuilder(pod());
    t.throws(() => copy.replay(prepareAdd({ op: 'add', path, value: 1 })), message, path);
  }
  t.throws(() => prepareAdd({ op: 'add', path: '', value: 1 }), /not an add operation below the root/);
});
