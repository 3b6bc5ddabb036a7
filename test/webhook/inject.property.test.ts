import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import t from 'tap';
import { injectPod } from '../../webhook/inject.ts';
import { escapePointerSegment } from '../../webhook/json-patch.ts';
import { testConfig } from '../fixtures/webhook/config.ts';
import { applyOps, validatePod } from '../fixtures/webhook/harness.ts';

const dnsLabel = fc.stringMatching(/^[a-z]([a-z0-9-]{0,10}[a-z0-9])?$/);
const mapKey = fc.oneof(fc.stringMatching(/^[a-z~./]{1,12}$/), fc.constantFrom('a/b', 'x~y', '~/~', 'networkservicemesh.io/x', '~0~1'));
const stringMap = fc.dictionary(mapKey, fc.string({ maxLength: 8 }), { maxKeys: 4 });
const optionalArray = <T>(arb: fc.Arbitrary<T>) => fc.option(fc.array(arb, { maxLength: 3 }), { nil: undefined });

const container = fc.record({
  name: dnsLabel,
  image: fc.constantFrom('nginx', 'busybox:1.36', 'reg:5000/a/b@sha256:0123'),
  volumeMounts: optionalArray(fc.record({ name: dnsLabel, mountPath: fc.constantFrom('/data', '/var/run/nsm/connections', '/x') })),
  futureField: fc.option(fc.jsonValue(), { nil: undefined }),
}, { requiredKeys: ['name', 'image'] });

const podArb = (annotationKey: string) =>
  fc.record({
    name: fc.option(dnsLabel, { nil: undefined }),
    labels: fc.option(stringMap, { nil: undefined }),
    annotations: stringMap,
    containers: fc.array(container, { minLength: 1, maxLength: 3 }),
    initContainers: optionalArray(container),
    volumes: optionalArray(fc.record({ name: dnsLabel, emptyDir: fc.constant({}) })),
    services: fc.constantFrom('kernel://a/nsm-1', 'memif://b@dom/nsm-2?x=1', 'kernel://a/nsm-1,kernel://c/nsm-3'),
  }).map((p) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      ...(p.name ? { name: p.name } : { generateName: 'gen-' }),
      ...(p.labels ? { labels: p.labels } : {}),
      annotations: { ...p.annotations, [annotationKey]: p.services },
    },
    spec: {
      containers: dedupe(p.containers),
      ...(p.initContainers ? { initContainers: dedupe(p.initContainers, new Set(p.containers.map((c) => c.name))) } : {}),
      ...(p.volumes ? { volumes: dedupe(p.volumes) } : {}),
    },
  }));

function dedupe<T extends { name: string }>(items: T[], seen = new Set<string>()): T[] {
  return items.filter((i) => !seen.has(i.name) && seen.add(i.name));
}

const ns = { name: 'demo', labels: {}, annotations: {} };

t.test('random pods: append-only, applies, keeps user data, valid, idempotent', async (t) => {
  const input = fc.tuple(fc.constantFrom('networkservicemesh.io', 'a~b/c', 'x/y~z', '~'), fc.boolean()).chain(([key, native]) =>
    fc.tuple(fc.constant(key), fc.constant(native), podArb(key)),
  );
  fc.assert(
    fc.property(input, ([key, native, pod]) => {
      const original = structuredClone(pod);
      const config = testConfig({ NSM_ANNOTATION: key, NSM_LABELS: 'a/b=1,x~y=2' }, native);
      const d = injectPod(pod, ns, config);
      if (d.kind !== 'inject') throw new Error(`expected injection, got ${JSON.stringify(d)}`);
      if (JSON.stringify(pod) !== JSON.stringify(original)) throw new Error('input mutated');
      for (const op of d.ops) if (op.op !== 'add') throw new Error(`non-add op ${op.op}`);
      const patched = applyOps(pod, d.ops) as any;
      if (!isDeepStrictEqual(JSON.parse(JSON.stringify(patched)), JSON.parse(JSON.stringify(d.patched)))) throw new Error('sent patch and checked copy differ');
      // user data survives: each original container is a prefix of its patched self
      original.spec.containers.forEach((c: any, i: number) => {
        const after = patched.spec.containers[i];
        const { volumeMounts: before = [], ...rest } = c;
        const { volumeMounts: now = [], ...restNow } = after;
        if (JSON.stringify(rest) !== JSON.stringify(restNow)) throw new Error('container fields changed');
        if (JSON.stringify(now.slice(0, before.length)) !== JSON.stringify(before)) throw new Error('mounts rewritten');
      });
      for (const [k, v] of Object.entries(original.metadata.labels ?? {})) if (patched.metadata.labels[k] !== v) throw new Error(`label ${k} changed`);
      for (const [k, v] of Object.entries(original.metadata.annotations)) if (patched.metadata.annotations[k] !== v) throw new Error(`annotation ${k} changed`);
      const names = [...patched.spec.containers, ...(patched.spec.initContainers ?? [])].map((c: any) => c.name);
      if (new Set(names).size !== names.length) throw new Error(`duplicate container names ${names}`);
      validatePod(patched);
      const again = injectPod(patched, ns, config);
      if (again.kind !== 'skip' || again.reason !== 'already-injected') throw new Error('not idempotent');
    }),
    { numRuns: 300 },
  );
  t.pass('300 random pods');
});

t.test('pointer escaping: ~ before /', async (t) => {
  t.equal(escapePointerSegment('a~b/c'), 'a~0b~1c');
  t.equal(escapePointerSegment('~1'), '~01');
  fc.assert(fc.property(fc.string(), (s) => escapePointerSegment(s).replaceAll('~1', '/').replaceAll('~0', '~') === s));
});
