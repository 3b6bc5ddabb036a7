import t from 'tap';
import { commands } from '../../bin/cli.ts';
import { testConfig } from '../fixtures/webhook/config.ts';
import { decodePatch, testApp } from '../fixtures/webhook/harness.ts';
import type { NamespaceInfo } from '../../webhook/namespace-info.ts';

type Container = { name: string; args: string[]; env: Array<{ name: string; value?: string }> };

const demo: NamespaceInfo = { name: 'demo', labels: {}, annotations: {} };
const review = {
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid: 'u1',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    operation: 'CREATE',
    namespace: 'demo',
    object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', annotations: { 'networkservicemesh.io': 'kernel://svc/nsm-1' } }, spec: { containers: [{ name: 'a', image: 'a' }] } },
  },
};

/** The containers the webhook injects into the pod above, as `nsc init` and `nsc run` see them. */
async function injected(env: Record<string, string>, native: boolean): Promise<Container[]> {
  const { app } = testApp(testConfig(env, native), () => demo);
  try {
    const res = await app.inject({ method: 'POST', url: '/mutate', payload: review });
    const ops = decodePatch(res.json().response) as Array<{ path: string; value: unknown }>;
    return ops.filter((o) => /ontainers(\/-)?$/.test(o.path)).flatMap((o) => (Array.isArray(o.value) ? o.value : [o.value]) as Container[]);
  } finally {
    await app.close();
  }
}

const settingsOf = async (command: string) => (await commands.find(([name]) => name === command)![1]()).default.env;

t.test('NSM_SIDECAR_METRICS_LISTEN_ON reaches nsc run alone, and only when set', async (t) => {
  for (const native of [false, true]) {
    const on = await injected({ NSM_SIDECAR_METRICS_LISTEN_ON: ':9093' }, native);
    t.equal(on.length, 2, 'an init container and a sidecar');
    for (const c of on) {
      const command = `nsc ${c.args[1]}`;
      const listenOn = c.env.find((e) => e.name === 'NSM_METRICS_LISTEN_ON')?.value;
      t.equal(listenOn, command === 'nsc run' ? ':9093' : undefined, `${command} (native ${native}): ${listenOn ?? 'no metrics'}`);
      const schema = await settingsOf(command);
      t.same(c.env.map((e) => e.name).filter((n) => n.startsWith('NSM_') && !(n in schema)), [], `every NSM_ variable of ${command} is one of its settings`);
    }
    const off = await injected({}, native);
    t.notOk(off.some((c) => c.env.some((e) => e.name === 'NSM_METRICS_LISTEN_ON')), `off by default (native ${native})`);
  }
});

t.test('the sidecar\'s metrics address is checked, and NSM_ENVS cannot set it', async (t) => {
  t.throws(() => testConfig({ NSM_SIDECAR_METRICS_LISTEN_ON: 'unix:///tmp/m.sock' }), /NSM_SIDECAR_METRICS_LISTEN_ON.*metrics are served over TCP; expected :9090 or host:port/);
  t.throws(() => testConfig({ NSM_ENVS: 'NSM_METRICS_LISTEN_ON=:9093' }), /NSM_METRICS_LISTEN_ON is set by the webhook itself.*NSM_SIDECAR_METRICS_LISTEN_ON/);
});
