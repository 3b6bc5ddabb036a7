import fc from 'fast-check';
import jsonpatch from 'fast-json-patch';
import t from 'tap';
import type { AddOperation } from '../../webhook/json-patch.ts';
import { ReplayPlan } from '../../webhook/replay-plan.ts';

const pod = () => ({
  metadata: { labels: { app: 'a' } },
  spec: {
    containers: [{ name: 'app', volumeMounts: [{ name: 'x', mountPath: '/x' }] }, { name: 'b' }],
    volumes: [] as unknown[],
  },
});

const add = (path: string, value: unknown): AddOperation => ({ op: 'add', path, value });
const plain = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown;

t.test('a compiled plan gives what fast-json-patch gives, on a copy', async (t) => {
  const ops = [
    add('/spec/containers/0/volumeMounts/-', { name: 'y', mountPath: '/y' }),
    add('/spec/containers/-', { name: 'sidecar' }),
    add('/spec/containers/0/volumeMounts/-', { name: 'z', mountPath: '/z' }),
    add('/spec/containers/1/volumeMounts', [{ name: 'y', mountPath: '/y' }]),
    add('/spec/initContainers', [{ name: 'init' }]),
    add('/metadata/labels/example.com~1a~0b', 'v'),
    add('/metadata/annotations', { k: 'v' }),
  ];
  const plan = ReplayPlan.compile(ops);
  if (!plan) throw new Error('expected a plan');
  const original = pod();
  const before = JSON.stringify(original);
  const patched = plan.apply(original);
  t.same(plain(patched), plain(jsonpatch.applyPatch(pod(), structuredClone(ops), true, false).newDocument));
  t.equal(JSON.stringify(original), before, 'the original is untouched');
  t.same(plain(plan.apply(pod())), plain(patched), 'a plan applies again to another pod');
});

t.test('operations whose order matters are not compiled', async (t) => {
  const refused: AddOperation[][] = [
    [add('/metadata', { labels: {} }), add('/metadata/annotations', {})],
    [add('/spec/initContainers', []), add('/spec/initContainers/-', { name: 'a' })],
    [add('/spec/containers/0/volumeMounts/-', {}), add('/spec/containers', [])],
    [add('/spec/containers/0', { name: 'first' })],
    [add('', {})],
  ];
  for (const ops of refused) t.equal(ReplayPlan.compile(ops), undefined, ops.map((o) => o.path).join(' then '));
});

t.test('a plan that does not fit a pod throws and names the place', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['/spec/missing/-', /missing: no object or array to add into/],
    ['/spec/containers/5/volumeMounts/-', /5: no object or array/],
    ['/metadata/labels/app/x', /app: no object or array/],
  ];
  for (const [path, message] of cases) t.throws(() => ReplayPlan.compile([add(path, 1)])?.apply(pod()), message, path);
});

t.test('a "__proto__" key is added as an own property, never as a prototype', async (t) => {
  const patched = ReplayPlan.compile([add('/metadata/labels/__proto__', { polluted: true })])?.apply(pod());
  const labels = (patched?.metadata as { labels: Record<string, unknown> }).labels;
  t.ok(Object.hasOwn(labels, '__proto__'));
  t.equal(Object.getPrototypeOf(labels), Object.prototype);
});

t.test('any appends and new keys under a random pod replay as fast-json-patch applies them', async (t) => {
  let compared = 0;
  let bothRefused = 0;
  const segment = fc.constantFrom('spec', 'containers', 'metadata', 'labels', 'a/b', 'c~d', '0', '1');
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.array(segment, { minLength: 1, maxLength: 4 }), fc.boolean()), { maxLength: 6 }), (specs) => {
      const ops = specs.map(([segments, append]) => add(`/${segments.map((s) => s.replaceAll('~', '~0').replaceAll('/', '~1')).join('/')}${append ? '/-' : ''}`, { n: 1 }));
      const plan = ReplayPlan.compile(ops);
      if (!plan) return;
      let expected: unknown;
      try {
        expected = jsonpatch.applyPatch(pod(), structuredClone(ops), true, false).newDocument;
      } catch {
        expected = undefined;
      }
      let actual: unknown;
      try {
        actual = plan.apply(pod());
      } catch {
        actual = undefined;
      }
      if (expected === undefined || actual === undefined) {
        if (expected !== actual) throw new Error(`one applies, the other does not: ${JSON.stringify(ops)}`);
        bothRefused++;
        return;
      }
      if (JSON.stringify(plain(expected)) !== JSON.stringify(plain(actual))) throw new Error(`results differ for ${JSON.stringify(ops)}`);
      compared++;
    }),
    { numRuns: 500 },
  );
  t.ok(compared > 50, `${compared} plans applied like fast-json-patch`);
  t.ok(bothRefused > 50, `${bothRefused} plans refused where fast-json-patch refuses`);
});

t.test('a copy: the document itself is left alone, also by a plan that does not fit', async (t) => {
  const ops = [add('/spec/containers/0/volumeMounts/-', { name: 'y' }), add('/spec/containers/-', { name: 'sidecar' }), add('/metadata/labels/k', 'v')];
  const plan = ReplayPlan.compile(ops);
  if (!plan) throw new Error('expected a plan');
  const doc = pod();
  t.not(plan.apply(doc), doc, 'a copy is returned');
  t.same(plain(doc), plain(pod()), 'the document is unchanged');

  const late = ReplayPlan.compile([add('/spec/containers/-', { name: 'sidecar' }), add('/spec/volumes/-', {}), add('/spec/missing/-', {})]);
  const other = pod();
  const before = JSON.stringify(other);
  t.throws(() => late?.apply(other), /missing: no object or array/);
  t.equal(JSON.stringify(other), before, 'nothing was added to the document');
});
