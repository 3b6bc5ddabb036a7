import t from 'tap';
import { testConfig } from '../fixtures/webhook/config.ts';
import { decodePatch, testApp } from '../fixtures/webhook/harness.ts';
import type { NamespaceInfo } from '../../webhook/namespace-info.ts';

const demo: NamespaceInfo = { name: 'demo', labels: {}, annotations: {} };
const reviewOf = (uid: string, services?: string) => ({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid,
    kind: { group: '', version: 'v1', kind: 'Pod' },
    operation: 'CREATE',
    namespace: 'demo',
    object: { apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'p-', annotations: services ? { 'networkservicemesh.io': services } : {} }, spec: { containers: [{ name: 'a', image: 'a' }] } },
  },
});

t.test('refuses what is not an AdmissionReview, without crashing', async (t) => {
  const { app, metrics } = testApp(testConfig(), () => demo, { bodyLimit: 2048 });
  t.teardown(() => app.close());
  const post = (payload: string, contentType = 'application/json') => app.inject({ method: 'POST', url: '/mutate', payload, headers: { 'content-type': contentType } });
  t.equal((await post(JSON.stringify(reviewOf('u1')), 'text/plain')).statusCode, 415, 'wrong content type: 415');
  t.equal((await post(JSON.stringify({ ...reviewOf('u1'), pad: 'x'.repeat(4096) }))).statusCode, 413, 'too large: 413');
  const bad = await post('{"apiVersion":');
  t.equal(bad.statusCode, 400, 'malformed JSON: 400');
  const noRequest = await post(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }));
  t.equal(noRequest.statusCode, 400, 'no request: 400');
  t.match(noRequest.json().message, /request/);
  t.equal((await post(JSON.stringify({ ...reviewOf('u1'), kind: 'Pod' }))).statusCode, 400, 'wrong kind: 400');
  t.equal((await post(JSON.stringify({ ...reviewOf('u1'), request: { uid: '' } }))).statusCode, 400, 'empty uid: 400');
  t.match(await metrics.registry.getSingleMetricAsString('nsm_webhook_http_errors_total'), /code="415"\} 1/);
  const ok = await post(JSON.stringify(reviewOf('u2', 'kernel://a/nsm-1')), 'application/json; charset=utf-8');
  t.equal(ok.statusCode, 200, 'still serving');
});

t.test('a handler error answers 500 and the app keeps serving', async (t) => {
  let fail = true;
  const { app } = testApp(testConfig(), () => {
    if (fail) throw new Error('boom');
    return demo;
  });
  t.teardown(() => app.close());
  const res = await app.inject({ method: 'POST', url: '/mutate', payload: reviewOf('u3', 'kernel://a/nsm-1') });
  t.equal(res.statusCode, 500);
  t.notMatch(res.body, /boom/, 'internal details stay in the log');
  fail = false;
  t.equal((await app.inject({ method: 'POST', url: '/mutate', payload: reviewOf('u4', 'kernel://a/nsm-1') })).statusCode, 200);
});

t.test('health, readiness and the debug endpoint', async (t) => {
  let ready = false;
  const { app } = testApp(testConfig(), () => demo, { ready: () => ready });
  t.teardown(() => app.close());
  t.equal((await app.inject('/healthz')).statusCode, 200);
  t.equal((await app.inject('/readyz')).statusCode, 503);
  ready = true;
  t.equal((await app.inject('/readyz')).statusCode, 200);
  const dbg = (await app.inject('/debug/inject?namespace=demo&services=kernel://a/nsm-1')).json();
  t.equal(dbg.decision, 'inject');
  t.equal(dbg.pod.spec.containers.length, 2);
});

t.test('metrics count decisions and latency', async (t) => {
  const { app, metrics } = testApp(testConfig(), () => demo);
  t.teardown(() => app.close());
  await app.inject({ method: 'POST', url: '/mutate', payload: reviewOf('m1', 'kernel://a/nsm-1') });
  await app.inject({ method: 'POST', url: '/mutate', payload: reviewOf('m2') });
  await app.inject({ method: 'POST', url: '/mutate', payload: reviewOf('m3', 'bad') });
  const text = await metrics.registry.metrics();
  t.match(text, /nsm_webhook_admission_requests_total\{decision="injected"\} 1/);
  t.match(text, /nsm_webhook_injections_total\{source="pod",native="false"\} 1/);
  t.match(text, /nsm_webhook_skips_total\{reason="not-annotated"\} 1/);
  t.match(text, /nsm_webhook_denials_total\{reason="invalid-annotation"\} 1/);
  t.match(text, /nsm_webhook_admission_duration_seconds_bucket\{le="0.005",decision="injected"\} 1/);
});

t.test('200 concurrent requests each keep their own services', async (t) => {
  const { app } = testApp(testConfig({ NSM_ENVS: 'A=1,B=2' }), () => demo);
  t.teardown(() => app.close());
  const results = await Promise.all(
    Array.from({ length: 200 }, (_, i) => app.inject({ method: 'POST', url: '/mutate', payload: reviewOf(`c-${i}`, `kernel://svc-${i}/nsm-1`) })),
  );
  let checked = 0;
  results.forEach((res, i) => {
    const body = res.json();
    if (body.response.uid !== `c-${i}`) t.fail(`uid of ${i}`);
    const ops = decodePatch(body.response) as Array<{ path: string; value: any }>;
    for (const op of ops.filter((o) => /ontainers(\/-)?$/.test(o.path))) {
      const containers = Array.isArray(op.value) ? op.value : [op.value];
      for (const c of containers) {
        const env = Object.fromEntries(c.env.map((e: { name: string; value?: string }) => [e.name, e.value]));
        if (env.NSM_NETWORK_SERVICES !== `kernel://svc-${i}/nsm-1` || env.A !== '1' || env.B !== '2') t.fail(`request ${i} got ${env.NSM_NETWORK_SERVICES}`);
        checked++;
      }
    }
  });
  t.equal(checked, 400, 'every response carries its own request\'s services, in both injected containers');
});

t.test('an injection reply (pre-serialised, and again from the cache) is the AdmissionReview JSON', async (t) => {
  const { app } = testApp(testConfig(), () => demo);
  t.teardown(() => app.close());
  const uids = ['u"1\\', 'u-2\u2028'];
  const replies: any[] = [];
  for (const uid of uids) {
    const res = await app.inject({ method: 'POST', url: '/mutate', payload: { ...reviewOf(uid, 'kernel://a/nsm-1'), apiVersion: 'admission.k8s.io/v1beta1' } });
    t.equal(res.statusCode, 200);
    t.match(res.headers['content-type'], /^application\/json/);
    replies.push(res.json());
  }
  uids.forEach((uid, i) => {
    const r = replies[i];
    t.same(Object.keys(r), ['apiVersion', 'kind', 'response']);
    t.equal(r.apiVersion, 'admission.k8s.io/v1beta1', 'the request\'s apiVersion is echoed');
    t.equal(r.kind, 'AdmissionReview');
    t.same(Object.keys(r.response), ['uid', 'allowed', 'patchType', 'patch']);
    t.equal(r.response.uid, uid);
    t.equal(r.response.allowed, true);
    t.equal(r.response.patchType, 'JSONPatch');
  });
  t.equal(replies[0].response.patch, replies[1].response.patch, 'the same pod shape gets the same patch');
});

t.test('"__proto__" and "constructor" keys in a review are plain data: injected, and no prototype changes', async (t) => {
  const { app } = testApp(testConfig(), () => demo);
  t.teardown(() => app.close());
  const text = JSON.stringify(reviewOf('u5', 'kernel://a/nsm-1')).replace(
    '"spec":{',
    '"spec":{"__proto__":{"polluted":true},"nodeSelector":{"constructor":{"prototype":{"polluted":true}}},',
  );
  for (let i = 0; i < 2; i++) {
    const res = await app.inject({ method: 'POST', url: '/mutate', payload: text, headers: { 'content-type': 'application/json' } });
    t.equal(res.statusCode, 200, `review ${i + 1} answered`);
    t.ok(decodePatch(res.json().response)?.some((op) => op.path === '/spec/containers/-'), `review ${i + 1} injected`);
  }
  t.equal(({} as { polluted?: boolean }).polluted, undefined, 'Object.prototype untouched');
});
