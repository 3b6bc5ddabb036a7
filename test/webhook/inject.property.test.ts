import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import t from 'tap';
import { injectPod, ReusedInjection } from '../../webhook/inject.ts';
import { Injector } from '../../webhook/injector.ts';
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

t.test('cached decisions: a pod of a shape seen before gets exactly the operations built for it afresh', async (t) => {
  // One configuration per mode for the whole run, so decisions are cached and reused across pods.
  const configs = [false, true].map((native) => testConfig({ NSM_LABELS: 'a/b=1,x~y=2' }, native));
  const key = 'networkservicemesh.io';
  const meta = (p: any) => (typeof p.metadata === 'object' ? p.metadata : undefined);
  // Changes that leave the fingerprint alone, and changes that must change the operations.
  const perturbations: Array<(pod: any, picked: { init: string; sidecar: string; volume: string }) => void> = [
    (p) => { p.spec.containers[0].image = 'other:2'; },
    (p) => { p.spec.containers[0].futureField = { deep: [1, 2] }; },
    (p) => { if (meta(p)?.annotations) p.metadata.annotations['unrelated/x'] = 'y'; },
    (p) => { if (meta(p)) p.metadata.labels = { ...(p.metadata.labels ?? {}), 'a/b': 'mine' }; },
    (p) => { if (meta(p)) delete p.metadata.labels; },
    (p) => { if (meta(p)) delete p.metadata.annotations; },
    (p) => { delete p.metadata; },
    (p) => { p.metadata = 'not an object'; },
    (p) => { (p.spec.containers[0].volumeMounts ??= []).push({ name: 'm', mountPath: '/var/run/nsm/connections' }); },
    (p) => { (p.spec.containers.at(-1).volumeMounts ??= []).push({ name: 'm', mountPath: '/var/lib/networkservicemesh' }); },
    (p) => { p.spec.containers.push({ name: 'extra-app', image: 'x' }); },
    (p, n) => { p.spec.containers[0].name = n.init; },
    (p, n) => { p.spec.ephemeralContainers = [{ name: n.sidecar, image: 'x' }]; },
    (p, n) => { (p.spec.volumes ??= []).push({ name: n.volume, emptyDir: {} }); },
    (p) => { delete p.spec.volumes; },
    (p) => { delete p.spec.initContainers; },
    (p) => { p.spec.initContainers = []; },
    (p) => { for (const v of p.spec.volumes ?? []) if (v && typeof v.name === 'string') v.name += '-x7k2q'; },
  ];
  fc.assert(
    fc.property(fc.boolean(), podArb(key), fc.array(fc.nat(perturbations.length - 1), { maxLength: 4 }), (native, pod, steps) => {
      const config = configs[Number(native)];
      // Pods without their own annotation inherit the namespace's.
      const ns = { name: 'demo', labels: {}, annotations: { [key]: 'kernel://inherited/nsm-9' } };
      const injector = new Injector(config);
      const first = injector.inject(pod, ns);
      if (first.kind !== 'inject') throw new Error('expected injection');
      const picked = { init: first.record.initContainers[0], sidecar: first.record.containers[0] ?? first.record.initContainers[1], volume: first.record.volumes[0] };
      const variant: any = structuredClone(pod);
      for (const s of steps) perturbations[s](variant, picked);
      for (const p of [pod, variant, pod, variant]) {
        const input = JSON.parse(JSON.stringify(p));
        const fresh = injectPod(input, ns, config);
        const cached = injector.inject(input, ns);
        // Metadata that is not an object is refused (injecting would replace it), cached or not.
        if (fresh.kind === 'deny' && fresh.reason === 'malformed-pod' && isDeepStrictEqual(cached, fresh)) continue;
        if (fresh.kind !== 'inject' || cached.kind !== 'inject') throw new Error('expected injection');
        if (cached.patch !== fresh.patch) throw new Error(`cached patch differs for ${JSON.stringify(input)}`);
        if (!isDeepStrictEqual(cached.record, fresh.record)) throw new Error('cached record differs');
        if (Buffer.from(cached.patchBase64, 'base64').toString() !== cached.patch) throw new Error('base64 differs');
        const applied = applyOps(input, cached.ops);
        if (!isDeepStrictEqual(JSON.parse(JSON.stringify(applied)), JSON.parse(JSON.stringify(cached.patched)))) throw new Error('cached patched copy differs');
        if (!isDeepStrictEqual(JSON.parse(JSON.stringify(applied)), JSON.parse(JSON.stringify(fresh.patched)))) throw new Error('cached and fresh patched pods differ');
      }
    }),
    { numRuns: 300 },
  );
  t.pass('300 pods with variants');
});

t.test('cached decisions: pods that differ only in their token volume\'s random suffix share one', async (t) => {
  const config = testConfig({}, false);
  const ns = { name: 'shop', labels: {}, annotations: {} };
  const pod = (suffix: string) => ({
    metadata: { annotations: { 'networkservicemesh.io': 'kernel://payments/nsm-1' } },
    spec: {
      containers: [{ name: 'app', image: 'app:1', volumeMounts: [{ name: `kube-api-access-${suffix}`, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }] }],
      volumes: [{ name: `kube-api-access-${suffix}`, projected: { sources: [] } }],
    },
  });
  const injector = new Injector(config);
  const first = injector.inject(pod('abcde'), ns);
  const second = injector.inject(pod('fghij'), ns);
  t.equal(first.kind, 'inject');
  t.ok(second instanceof ReusedInjection, 'the second pod reuses the first one\'s decision');
  t.equal(second.kind === 'inject' && second.patch, first.kind === 'inject' && first.patch, 'with the same operations');
});

t.test('pointer escaping: ~ before /', async (t) => {
  t.equal(escapePointerSegment('a~b/c'), 'a~0b~1c');
  t.equal(escapePointerSegment('~1'), '~01');
  fc.assert(fc.property(fc.string(), (s) => escapePointerSegment(s).replaceAll('~1', '/').replaceAll('~0', '~') === s));
});
