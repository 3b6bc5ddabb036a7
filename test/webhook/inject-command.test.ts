import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../sdk/config/index.ts';
import { injectCommandEnv, runInject } from '../../webhook/inject-command.ts';
import { validatePod } from '../fixtures/webhook/harness.ts';

const MANIFESTS = `
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: demo, annotations: {networkservicemesh.io: "kernel://a/nsm-1"}}
spec: {containers: [{name: app, image: alpine}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: demo}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: demo}
spec:
  schedule: "0 0 * * *"
  jobTemplate:
    spec:
      template:
        metadata: {annotations: {networkservicemesh.io: "kernel://b/nsm-1", networkservicemesh.io/native-sidecar: "true"}}
        spec: {restartPolicy: OnFailure, containers: [{name: job, image: busybox}]}
---
apiVersion: v1
kind: List
items:
  - apiVersion: apps/v1
    kind: StatefulSet
    metadata: {name: db, namespace: other}
    spec: {template: {metadata: {annotations: {networkservicemesh.io: "memif://c/nsm-1"}}, spec: {containers: [{name: db, image: pg}]}}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
spec: {ports: [{port: 80}]}
`;

const NAMESPACES = `
apiVersion: v1
kind: Namespace
metadata: {name: demo, labels: {networkservicemesh.io/inject: enabled, pod-security.kubernetes.io/enforce: baseline}, annotations: {networkservicemesh.io: "kernel://ns-default/nsm-1"}}
---
apiVersion: v1
kind: Namespace
metadata: {name: other}
`;

async function run(args: string[], stdinText = '', env: Record<string, string> = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c) => (out += c));
  stderr.on('data', (c) => (err += c));
  const code = await runInject(loadConfig(injectCommandEnv, env), args, { stdin: Readable.from([stdinText]), stdout, stderr });
  return { code, out, err };
}

t.test('injects pods and workload templates from multi-document YAML, leaves other objects alone', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nsm-inject-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'ns.yaml'), NAMESPACES);
  const { code, out } = await run(['-f', '-', '--namespace-file', join(dir, 'ns.yaml')], MANIFESTS);
  t.equal(code, 0);
  const docs = parseAllDocuments(out).map((d: any) => d.toJS());
  t.equal(docs.length, 5);
  const [pod, deploy, cron, list, svc] = docs;
  t.same(pod.spec.containers.map((c: any) => c.name), ['app', 'nsm-sidecar']);
  t.equal(pod.spec.volumes[0].csi.driver, 'csi.networkservicemesh.io', 'namespace PSA baseline: CSI');
  t.equal(deploy.spec.template.spec.containers[1].env[1].value, 'kernel://ns-default/nsm-1', 'namespace annotation fallback for templates');
  const job = cron.spec.jobTemplate.spec.template;
  t.same(job.spec.initContainers.map((c: any) => [c.name, c.restartPolicy]), [['nsm-sidecar-init', undefined], ['nsm-sidecar', 'Always']], 'native sidecar: Jobs complete');
  t.equal(list.items[0].spec.template.spec.volumes[0].hostPath.path, '/var/lib/networkservicemesh', 'privileged namespace: hostPath');
  t.same(svc, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'demo' }, spec: { ports: [{ port: 80 }] } });
  for (const p of [pod, { metadata: deploy.spec.template.metadata, ...deploy.spec.template }, { ...job }]) t.doesNotThrow(() => validatePod(p));

  const again = await run(['-f', '-', '--namespace-file', join(dir, 'ns.yaml')], out);
  t.equal(again.out, out, 'injecting the output again changes nothing');
});

t.test('-o json and errors', async (t) => {
  const one = await run(['-f', '-', '-o', 'json'], 'kind: Pod\napiVersion: v1\nmetadata: {name: p, annotations: {networkservicemesh.io: "kernel://a/nsm-1"}}\nspec: {containers: [{name: a, image: a}]}\n');
  t.equal(JSON.parse(one.out).spec.containers.length, 2);
  await t.rejects(run(['-f', '-'], 'kind: Pod\napiVersion: v1\nmetadata: {name: p, annotations: {networkservicemesh.io: "kernel://a"}}\n'), {
    code: 'INVALID_ARGUMENT',
    message: /^standard input: document 1 \(Pod p\): annotation networkservicemesh.io of the pod: network service URL "kernel:\/\/a": the interface name is missing/,
  });
  const malformed = [
    'kind: ConfigMap\napiVersion: v1\nmetadata: {name: c}\n',
    'kind: Deployment\napiVersion: apps/v1\nmetadata: {name: web, namespace: shop}\nspec:\n  template:\n    metadata: {annotations: {networkservicemesh.io: "kernel://a/nsm-1"}}\n    spec: {containers: [{name: a, image: a}, 7]}\n',
  ].join('---\n');
  await t.rejects(run(['-f', '-'], malformed), {
    code: 'INVALID_ARGUMENT',
    message: 'standard input: document 2 (Deployment shop/web): spec.template.spec.containers[1] is a number, not a container: fix the pod and create it again',
  }, 'a container that is not an object: file, document and path named');
  await t.rejects(run([]), { message: /missing -f FILE/ });
  await t.rejects(run(['-f', '-', '-o', 'xml']), { message: /expected yaml or json/ });
  await t.rejects(run(['-f', '/nonexistent.yaml']), { message: /cannot read \/nonexistent.yaml/ });
  await t.rejects(run(['-f', '-'], 'a: [\n'), { message: /not valid YAML/ });
  const host = await run(['-f', '-'], 'kind: Pod\napiVersion: v1\nmetadata: {name: h, annotations: {networkservicemesh.io: "kernel://a/nsm-1"}}\nspec: {hostNetwork: true, containers: [{name: a, image: a}]}\n');
  t.match(host.err, /hostNetwork/);
});

t.test('a URL with sriovToken=<resource> adds one of that resource to the init container\'s limits and requests; the pod\'s own resources stay', async (t) => {
  const deployment = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: radio, namespace: demo}
spec:
  selector: {matchLabels: {app: radio}}
  template:
    metadata: {labels: {app: radio}, annotations: {networkservicemesh.io: "kernel://radio/nsm-1?sriovToken=nsm.example.com/radio,kernel://radio/nsm-2?sriovToken=nsm.example.com/radio"}}
    spec: {containers: [{name: app, image: alpine, resources: {limits: {cpu: "1", nsm.example.com/radio: "5"}}}]}
`;
  const { code, out } = await run(['-f', '-'], deployment);
  t.equal(code, 0);
  const spec = parseAllDocuments(out)[0].toJS().spec.template.spec;
  const [init] = spec.initContainers;
  t.equal(init.args.join(' '), 'nsc init');
  t.equal(init.resources.limits['nsm.example.com/radio'], '2', 'one per URL');
  t.equal(init.resources.requests['nsm.example.com/radio'], '2', 'requests say the same (no overcommit of extended resources)');
  t.same(spec.containers[0].resources, { limits: { cpu: '1', 'nsm.example.com/radio': '5' } }, 'the application container\'s resources are untouched');
  t.notOk(spec.containers[1].resources.limits['nsm.example.com/radio'], 'the sidecar asks for none (it heals with the tokens nsc init\'s connections carry)');
  t.doesNotThrow(() => validatePod({ metadata: {}, spec }));
});
