import t from 'tap';
import { injectPod } from '../../webhook/inject.ts';
import type { JsonObject } from '../../webhook/json-patch.ts';
import { testConfig } from '../fixtures/webhook/config.ts';

type Mount = { name: string; mountPath: string; readOnly?: boolean };
type Env = { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } };
type Container = { name: string; args?: string[]; env?: Env[]; volumeMounts?: Mount[]; restartPolicy?: string };
type Volume = { name: string; emptyDir?: object; downwardAPI?: { items: Array<{ path: string; fieldRef: { fieldPath: string } }> } };
type PodSpec = { initContainers: Container[]; containers: Container[]; volumes: Volume[] };

const ns = { name: 'demo', labels: {}, annotations: {} };
const pod = (extra: { mounts?: Mount[]; volumes?: Volume[] } = {}) => ({
  apiVersion: 'v1', kind: 'Pod',
  metadata: { name: 'p', annotations: { 'networkservicemesh.io': 'kernel://svc/nsm-1' } },
  spec: { containers: [{ name: 'app', image: 'a', ...(extra.mounts ? { volumeMounts: extra.mounts } : {}) }], ...(extra.volumes ? { volumes: extra.volumes } : {}) },
});

function injected(env: Record<string, string>, native: boolean, doc: JsonObject = pod()): PodSpec {
  const d = injectPod(doc, ns, testConfig(env, native));
  if (d.kind !== 'inject') throw new Error(`not injected: ${JSON.stringify(d)}`);
  return (d.patched as { spec: PodSpec }).spec;
}

const roles = (spec: PodSpec) => {
  const all = [...spec.initContainers, ...spec.containers];
  return { init: all.find((c) => c.args?.[1] === 'init')!, sidecar: all.find((c) => c.args?.[1] === 'run')!, app: spec.containers.find((c) => c.name === 'app')! };
};
const envOf = (c: Container, name: string) => c.env?.find((e) => e.name === name);
const mountAt = (c: Container, path: string) => c.volumeMounts?.find((m) => m.mountPath === path);

t.test('the sidecar gets the pod\'s annotations and serves the client API in a volume the app containers share', async (t) => {
  for (const native of [false, true]) {
    const spec = injected({}, native);
    const { init, sidecar, app } = roles(spec);
    t.equal(sidecar.restartPolicy, native ? 'Always' : undefined, `native ${native}`);
    const podinfo = spec.volumes.find((v) => v.name === 'nsm-podinfo');
    t.same(podinfo?.downwardAPI?.items, [{ path: 'annotations', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.annotations' } }], 'a downward API volume of the pod\'s annotations');
    t.same(spec.volumes.find((v) => v.name === 'nsm-client-api'), { name: 'nsm-client-api', emptyDir: {} }, 'an emptyDir for the client API socket');
    t.same(mountAt(sidecar, '/etc/nsm/podinfo'), { name: 'nsm-podinfo', mountPath: '/etc/nsm/podinfo', readOnly: true });
    t.same(mountAt(sidecar, '/var/run/nsm'), { name: 'nsm-client-api', mountPath: '/var/run/nsm' }, 'the sidecar writes its socket there');
    t.same(mountAt(app, '/var/run/nsm'), { name: 'nsm-client-api', mountPath: '/var/run/nsm' }, 'the app reaches the socket at the same path, writable: the runtime makes the connections volume\'s mount point in it');
    t.same(mountAt(app, '/var/run/nsm/connections'), { name: 'nsm-connections', mountPath: '/var/run/nsm/connections', readOnly: true }, 'the connections below it stay read-only');
    t.equal(mountAt(app, '/etc/nsm/podinfo'), undefined, 'the app does not get the sidecar\'s view of the annotations');
    t.equal(envOf(sidecar, 'NSM_POD_ANNOTATIONS')?.value, '/etc/nsm/podinfo/annotations');
    t.equal(envOf(sidecar, 'NSM_ANNOTATION')?.value, 'networkservicemesh.io');
    t.equal(envOf(sidecar, 'NSM_CLIENT_API')?.value, 'unix:///var/run/nsm/nsc.sock');
    t.equal(envOf(sidecar, 'POD_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath, 'metadata.namespace', 'the pod\'s namespace, for its Events');
    for (const name of ['NSM_POD_ANNOTATIONS', 'NSM_CLIENT_API', 'POD_NAMESPACE']) t.equal(envOf(init, name), undefined, `nsc init has no ${name}`);
    t.equal(mountAt(init, '/etc/nsm/podinfo'), undefined, 'nor the annotations volume');
  }
});

t.test('the client API follows NSM_SIDECAR_CLIENT_API, and is left out when it is empty', async (t) => {
  for (const native of [false, true]) {
    const moved = roles(injected({ NSM_SIDECAR_CLIENT_API: 'unix:///run/nsm-api/client.sock', NSM_ANNOTATION: 'example.com/services' }, native, {
      ...pod(), metadata: { name: 'p', annotations: { 'example.com/services': 'kernel://svc/nsm-1' } },
    }));
    t.equal(envOf(moved.sidecar, 'NSM_CLIENT_API')?.value, 'unix:///run/nsm-api/client.sock');
    t.equal(envOf(moved.sidecar, 'NSM_ANNOTATION')?.value, 'example.com/services', 'the sidecar follows the annotation the webhook reads');
    t.ok(mountAt(moved.sidecar, '/run/nsm-api') && mountAt(moved.app, '/run/nsm-api')?.readOnly, 'the socket\'s directory is the shared volume');
    const off = injected({ NSM_SIDECAR_CLIENT_API: '' }, native);
    const r = roles(off);
    t.equal(envOf(r.sidecar, 'NSM_CLIENT_API')?.value, '', 'empty: the sidecar serves no client API');
    t.notOk(off.volumes.some((v) => v.name === 'nsm-client-api'), 'and there is no volume for it');
    t.equal(mountAt(r.app, '/var/run/nsm'), undefined);
    t.ok(mountAt(r.sidecar, '/etc/nsm/podinfo'), 'the annotation is still followed');
  }
});

t.test('an app that mounts the socket directory itself keeps its own mount; names in use are avoided', async (t) => {
  const spec = injected({}, false, pod({ mounts: [{ name: 'mine', mountPath: '/var/run/nsm' }], volumes: [{ name: 'mine', emptyDir: {} }, { name: 'nsm-podinfo', emptyDir: {} }] }));
  const { app, sidecar } = roles(spec);
  t.same(app.volumeMounts?.filter((m) => m.mountPath === '/var/run/nsm'), [{ name: 'mine', mountPath: '/var/run/nsm' }]);
  t.equal(mountAt(sidecar, '/etc/nsm/podinfo')?.name, 'nsm-podinfo-2', 'the pod\'s own nsm-podinfo volume is left alone');
  t.ok(spec.volumes.some((v) => v.name === 'nsm-podinfo-2' && v.downwardAPI));
});

t.test('bad client API settings stop the webhook with the variable named', async (t) => {
  t.throws(() => testConfig({ NSM_SIDECAR_CLIENT_API: ':9000' }), /NSM_SIDECAR_CLIENT_API.*unix socket in a volume of the pod; expected unix:\/\/\/var\/run\/nsm\/nsc\.sock/);
  t.throws(() => testConfig({ NSM_SIDECAR_CLIENT_API: 'unix://relative.sock' }), /NSM_SIDECAR_CLIENT_API.*absolute path/);
  t.throws(() => testConfig({ NSM_SIDECAR_CLIENT_API: 'unix:///var/run/nsm/connections/nsc.sock' }), /NSM_SIDECAR_CLIENT_API: the socket's directory \/var\/run\/nsm\/connections is NSM_CONNECTIONS_DIR/);
  for (const name of ['NSM_CLIENT_API', 'NSM_POD_ANNOTATIONS', 'NSM_ANNOTATION', 'POD_NAMESPACE']) t.throws(() => testConfig({ NSM_ENVS: `${name}=x` }), new RegExp(`${name} is set by the webhook itself`));
});
