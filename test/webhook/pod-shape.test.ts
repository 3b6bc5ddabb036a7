import t from 'tap';
import { malformedEntry } from '../../webhook/pod-shape.ts';
import { testConfig } from '../fixtures/webhook/config.ts';
import { testApp } from '../fixtures/webhook/harness.ts';

const annotated = (spec: unknown) => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'demo', annotations: { 'networkservicemesh.io': 'kernel://a/nsm-1' } }, spec,
});
const review = (object: unknown) => ({
  apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
  request: { uid: 'u-1', kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' }, namespace: 'demo', operation: 'CREATE', object },
});

t.test('the webhook denies a pod whose lists hold something that is not an object, naming the path', async (t) => {
  const { app } = testApp(testConfig({}, false), (name) => ({ name, labels: {}, annotations: {} }));
  const cases: [string, unknown, string][] = [
    ['a number among the containers', { containers: [{ name: 'a', image: 'a' }, 7] }, 'spec.containers[1] is a number, not a container'],
    ['null among the init containers', { initContainers: [null], containers: [{ name: 'a', image: 'a' }] }, 'spec.initContainers[0] is null, not a container'],
    ['a string among the volumes', { containers: [{ name: 'a', image: 'a' }], volumes: ['data'] }, 'spec.volumes[0] is a string, not a volume'],
    ['a list among a container\'s env', { containers: [{ name: 'a', image: 'a', env: [{ name: 'X', value: '1' }, ['Y']] }] }, 'spec.containers[0].env[1] is a list, not an env var (name and value)'],
    ['containers that are not a list', { containers: { name: 'a' } }, 'spec.containers is an object, not a list'],
    ['a volume mount that is a boolean', { containers: [{ name: 'a', image: 'a', volumeMounts: [true] }] }, 'spec.containers[0].volumeMounts[0] is a boolean, not a volume mount'],
  ];
  for (const [name, spec, path] of cases) {
    const res = await app.inject({ method: 'POST', url: '/mutate', payload: review(annotated(spec)) });
    t.equal(res.statusCode, 200, name);
    const response = res.json().response;
    t.equal(response.allowed, false, `${name}: denied`);
    t.same(response.status, { code: 400, message: `${path}: fix the pod and create it again` }, `${name}: the path is named`);
    t.notOk('patch' in response, `${name}: no patch`);
  }
});

t.test('well-formed pods and pods the webhook does not inject pass the check', async (t) => {
  t.equal(malformedEntry({ spec: { containers: [{ name: 'a', env: [{ name: 'X' }], volumeMounts: [] }], volumes: [{ name: 'v' }] } }, []), undefined);
  t.equal(malformedEntry({}, []), undefined, 'no spec: nothing to check');
  t.equal(malformedEntry({ spec: { containers: [{ name: 'a' }, 'b'] } }, ['spec', 'template']), 'spec.template.spec.containers[1] is a string, not a container', 'a template is named by its place');
  t.equal(malformedEntry({ spec: 'x' }, []), 'spec is a string, not a pod spec');
  const { app } = testApp(testConfig({}, false), (name) => ({ name, labels: {}, annotations: {} }));
  const plain = { ...annotated({ containers: [5] }), metadata: { name: 'p', namespace: 'demo' } };
  const res = await app.inject({ method: 'POST', url: '/mutate', payload: review(plain) });
  t.equal(res.json().response.allowed, true, 'a pod that asks for no service is not the webhook\'s to judge');
});
