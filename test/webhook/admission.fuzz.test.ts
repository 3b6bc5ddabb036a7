import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import t from 'tap';
import { reviewAdmission, type AdmissionRequest } from '../../webhook/admission.ts';
import { Injector } from '../../webhook/injector.ts';
import type { NamespaceInfo } from '../../webhook/namespace-info.ts';
import { testConfig } from '../fixtures/webhook/config.ts';
import { applyOps, decodePatch, testApp } from '../fixtures/webhook/harness.ts';

// Fixed seed and a time bound, so CI runs the same reviews every time and never for long.
const RUN = { seed: 17, numRuns: 600, interruptAfterTimeLimit: 20_000, markInterruptAsFailure: false };

const anything = fc.jsonValue({ maxDepth: 2 });
const services = fc.oneof(
  fc.constantFrom('kernel://a/nsm-1', 'memif://b@dom/nsm-2?x=1', 'kernel://a/nsm-1,kernel://c/nsm-3', 'kernel://a', 'vxlan://x/y', '', ' '),
  fc.string({ maxLength: 12 }),
  anything,
);
const listOf = (item: fc.Arbitrary<unknown>) => fc.oneof({ weight: 4, arbitrary: fc.array(item, { maxLength: 3 }) }, { weight: 1, arbitrary: anything });
const container = fc.oneof(
  { weight: 5, arbitrary: fc.record({
    name: fc.oneof(fc.constantFrom('app', 'nsm-init', 'nsm-sidecar', 'x'), anything),
    image: fc.constant('img'),
    env: listOf(fc.oneof(fc.record({ name: fc.string({ maxLength: 4 }), value: fc.string({ maxLength: 4 }) }), anything)),
    volumeMounts: listOf(fc.oneof(fc.record({ name: fc.string({ maxLength: 4 }), mountPath: fc.constantFrom('/var/run/nsm/connections', '/var/lib/networkservicemesh', '/d') }), anything)),
  }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: anything },
);
const pod = fc.record({
  apiVersion: fc.constant('v1'),
  kind: fc.constant('Pod'),
  metadata: fc.oneof(
    { weight: 6, arbitrary: fc.record({
      name: fc.constantFrom('p', 'q'),
      labels: fc.oneof(fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 4 }), { maxKeys: 2 }), anything),
      annotations: fc.oneof(
        fc.record({ 'networkservicemesh.io': services, 'networkservicemesh.io/inject': fc.constantFrom('false', 'true', 'x'), 'networkservicemesh.io/native-sidecar': fc.constantFrom('true', 'false', 'maybe') }, { requiredKeys: [] }),
        anything,
      ),
    }, { requiredKeys: [] }) },
    { weight: 1, arbitrary: anything },
  ),
  spec: fc.oneof(
    { weight: 6, arbitrary: fc.record({
      containers: listOf(container),
      initContainers: listOf(container),
      ephemeralContainers: listOf(container),
      volumes: listOf(fc.oneof(fc.record({ name: fc.constantFrom('nsm-socket', 'v', 'nsm-connections'), emptyDir: fc.constant({}) }), anything)),
      hostNetwork: fc.oneof(fc.boolean(), anything),
    }, { requiredKeys: [] }) },
    { weight: 1, arbitrary: anything },
  ),
}, { requiredKeys: ['apiVersion', 'kind'] });
// A review reaches the webhook as JSON text: plain objects only.
const asJson = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const request = fc.record({
  uid: fc.uuid(),
  kind: fc.oneof({ weight: 8, arbitrary: fc.constant({ group: '', version: 'v1', kind: 'Pod' }) }, { weight: 1, arbitrary: fc.constant({ group: 'apps', version: 'v1', kind: 'Deployment' }) }),
  operation: fc.oneof({ weight: 8, arbitrary: fc.constant('CREATE') }, { weight: 1, arbitrary: fc.constantFrom('UPDATE', 'DELETE') }),
  namespace: fc.constantFrom('demo', 'restricted', 'unknown'),
  object: fc.oneof({ weight: 10, arbitrary: pod }, { weight: 1, arbitrary: anything }),
}).map(asJson);
const namespaces = (name: string): NamespaceInfo | undefined =>
  name === 'unknown' ? undefined
    : name === 'restricted' ? { name, labels: { 'pod-security.kubernetes.io/enforce': 'restricted', 'networkservicemesh.io/inject': 'enabled' }, annotations: { 'networkservicemesh.io': 'kernel://ns-default/nsm-1' } }
      : { name, labels: {}, annotations: {} };

function at(doc: unknown, pointer: string): unknown {
  let v = doc;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (typeof v !== 'object' || v === null || !Object.hasOwn(v, key)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/**
 * Everything of `before` is still in `after`: values equal, every list still a list with its items
 * first (each kept in turn), every object still an object with its keys. Additions are allowed.
 */
function kept(before: unknown, after: unknown, path: string): string | undefined {
  if (typeof before !== 'object' || before === null) return isDeepStrictEqual(before, after) ? undefined : `${path} changed`;
  if (Array.isArray(before)) {
    if (!Array.isArray(after) || after.length < before.length) return `${path} is no longer the user's list`;
  } else if (typeof after !== 'object' || after === null || Array.isArray(after)) {
    return `${path} is no longer an object`;
  }
  for (const [k, v] of Object.entries(before)) {
    const bad = kept(v, (after as Record<string, unknown>)[k], `${path}/${k}`);
    if (bad) return bad;
  }
  return undefined;
}

function check(req: AdmissionRequest, response: { uid: string; allowed: boolean; patch?: string; patchType?: string; status?: { code?: number; message?: string } }): void {
  if (response.uid !== req.uid) throw new Error('uid not echoed');
  if (typeof response.allowed !== 'boolean') throw new Error('no allowed');
  if (!response.allowed) {
    const { code, message } = response.status ?? {};
    if (!Number.isInteger(code) || (code ?? 0) < 400 || (code ?? 0) > 599 || typeof message !== 'string' || message === '') throw new Error(`denial without a status: ${JSON.stringify(response.status)}`);
    if (response.patch !== undefined) throw new Error('a denial carries a patch');
    return;
  }
  const ops = decodePatch(response);
  if (ops === null) return;
  if (response.patchType !== 'JSONPatch') throw new Error('patch without patchType');
  for (const op of ops) {
    if (op.op !== 'add') throw new Error(`${op.op} ${op.path}: only adds`);
    if (!op.path.endsWith('/-') && at(req.object, op.path) !== undefined) throw new Error(`${op.path} replaces what the pod had`);
  }
  const patched = applyOps(req.object, ops);
  const bad = kept(req.object, patched, '');
  if (bad) throw new Error(bad);
}

t.test('random AdmissionReviews: no crash, an answer with a status, patches that apply and only add', async (t) => {
  const injector = new Injector(testConfig({}, false));
  const seen = { injected: 0, denied: 0, skipped: 0 };
  fc.assert(
    fc.property(request, (req) => {
      const r = reviewAdmission(req, namespaces, injector);
      check(req, r.response);
      seen[r.outcome.decision]++;
    }),
    RUN,
  );
  t.ok(seen.injected > 0 && seen.denied > 0 && seen.skipped > 0, `every kind of answer came up: ${JSON.stringify(seen)}`);
});

t.test('the same through the HTTP app: every review answered 200 with a response', async (t) => {
  const { app } = testApp(testConfig({}, true), namespaces);
  await fc.assert(
    fc.asyncProperty(request, async (req) => {
      const res = await app.inject({ method: 'POST', url: '/mutate', payload: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: req } });
      if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}: ${res.body}`);
      check(req, res.json().response);
    }),
    { ...RUN, numRuns: 200 },
  );
  t.pass('200 reviews over app.inject()');
});
