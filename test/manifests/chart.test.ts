import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { cpSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { INSTALL_RELEASE, renderInstall } from '../../scripts/install-manifest.ts';
import { hasCustomSchema, validateCustom } from '../fixtures/crd-schemas.ts';
import { commands } from '../../bin/cli.ts';
import { chartDir, documents, helm, helmTemplate, repoRoot as root, type TemplateOptions } from '../fixtures/kube-cli.ts';
import { isKubernetesKind, validateKubernetes } from '../fixtures/k8s-schema.ts';
import { startFixtureApiServer, type ResourceDef } from '../fixtures/kube-api-server.ts';
import { matches, namespaceLabels, type LabelSelector } from '../fixtures/label-selector.ts';

type Obj = Record<string, any>;

async function render(values: Record<string, unknown> = {}, opts: TemplateOptions = {}): Promise<Obj[]> {
  return (await helmTemplate(values, opts)).map((d) => d.obj);
}

function find(objs: Obj[], kind: string, name?: string): Obj {
  const hit = objs.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (!hit) throw new Error(`no ${kind} ${name ?? ''}`);
  return hit;
}

const PROVIDED = { tls: { mode: 'provided', provided: { webhookSecretName: 'my-webhook-tls', caBundle: 'Q0EK', peerSecretName: 'my-peer-tls' } } };
const VARIANTS: [string, Record<string, unknown>][] = [
  ['defaults (cert-manager)', {}],
  ['selfSigned', { tls: { mode: 'selfSigned' } }],
  ['provided', PROVIDED],
  ['cert-manager with an existing issuer', { tls: { certManager: { issuerRef: { name: 'corp-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' } } } }],
  ['PodMonitor', { metrics: { monitor: { enabled: true, labels: { release: 'prom' } } } }],
  ['ServiceMonitor', { metrics: { monitor: { enabled: true, kind: 'ServiceMonitor' } } }],
  ['matchConditions off, Ignore, no PDB', { webhook: { matchConditions: { enabled: false }, failurePolicy: 'Ignore', podDisruptionBudget: { enabled: false } } }],
  ['overrides', { fullnameOverride: 'mesh', imagePullSecrets: [{ name: 'regcred' }], injection: { envs: ['A=1', 'B=2'], sidecarMetrics: { enabled: true, port: 9193 } }, webhook: { priorityClassName: 'high', tolerations: [{ key: 'k', operator: 'Exists' }], podAnnotations: { a: 'b' }, affinity: { nodeAffinity: {} }, excludeNamespaces: ['cert-manager'] } }],
];

function validate(obj: Obj): void {
  if (isKubernetesKind(obj)) validateKubernetes(obj);
  else if (hasCustomSchema(obj)) validateCustom(obj);
  else throw new Error(`no schema to validate ${obj.apiVersion} ${obj.kind}`);
}

t.test('every rendered object is valid against its schema, with no unknown fields', async (t) => {
  for (const [name, values] of VARIANTS) {
    const objs = await render(values);
    t.ok(objs.length > 5, `${name}: renders objects`);
    for (const obj of objs) t.doesNotThrow(() => validate(obj), `${name}: ${obj.kind}/${obj.metadata.name}`);
    const ids = objs.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
    t.same(ids.length, new Set(ids).size, `${name}: object names are unique`);
    for (const o of objs) {
      if (['ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration'].includes(o.kind)) t.notOk(o.metadata.namespace);
      else t.equal(o.metadata.namespace, 'nsm-system', `${name}: ${o.kind}/${o.metadata.name} in the release namespace`);
    }
  }
});

t.test('the validators catch what they should', async (t) => {
  const dep = structuredClone(find(await render(), 'Deployment'));
  dep.spec.template.spec.containers[0].imagePullPolicie = 'Always';
  t.throws(() => validate(dep), /containers\[0\]\.imagePullPolicie: unknown field/);
  const svc = structuredClone(find(await render(), 'Service'));
  svc.spec.ports[0].port = 'https';
  t.throws(() => validate(svc), /must be integer/);
  const cert = structuredClone(find(await render(), 'Certificate', 'nsm-webhook'));
  cert.spec.usage = ['server auth'];
  t.throws(() => validate(cert), /additional properties/);
  t.throws(() => validate({ apiVersion: 'x/v1', kind: 'Y', metadata: {} }), /no schema/);
});

t.test('the webhook Deployment', async (t) => {
  const objs = await render();
  const dep = find(objs, 'Deployment', 'nsm-webhook');
  const pod = dep.spec.template.spec;
  const c = pod.containers[0];
  t.equal(dep.spec.replicas, 2);
  t.same(pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey, 'kubernetes.io/hostname');
  t.ok(matches({ matchLabels: dep.spec.selector.matchLabels }, dep.spec.template.metadata.labels), 'selector matches its pods');
  t.same(pod.securityContext.runAsNonRoot, true);
  t.equal(pod.securityContext.runAsUser, 65532);
  t.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
  t.same(c.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } });
  t.equal(pod.automountServiceAccountToken, true, 'token only where needed: the pod asks for it');
  t.equal(find(objs, 'ServiceAccount', 'nsm-webhook').automountServiceAccountToken, false);
  t.equal(c.image, 'ghcr.io/nsm-project/nsm-webhook:0.1.0');
  t.equal(c.imagePullPolicy, 'IfNotPresent');
  for (const [probe, path] of [['livenessProbe', '/healthz'], ['readinessProbe', '/readyz'], ['startupProbe', '/healthz']]) {
    t.same(c[probe].httpGet, { scheme: 'HTTPS', path, port: 'https' }, probe);
  }
  t.same(c.ports, [
    { name: 'https', containerPort: 8443, protocol: 'TCP' },
    { name: 'metrics', containerPort: 9090, protocol: 'TCP' },
  ]);
  const env = Object.fromEntries(c.env.map((e: Obj) => [e.name, e.value]));
  t.same(env, {
    NSM_LISTEN_ON: ':8443',
    NSM_METRICS_LISTEN_ON: ':9090',
    NSM_CERT_FILE_PATH: '/etc/nsm/webhook/tls/tls.crt',
    NSM_KEY_FILE_PATH: '/etc/nsm/webhook/tls/tls.key',
    NSM_ANNOTATION: 'networkservicemesh.io',
    NSM_SIDECAR_IMAGE: 'ghcr.io/nsm-project/nsm-sidecar:0.1.0',
    NSM_IMAGE_PULL_POLICY: 'IfNotPresent',
    NSM_NATIVE_SIDECAR: 'auto',
    NSM_SIDECAR_LIMITS_CPU: '200m',
    NSM_SIDECAR_LIMITS_MEMORY: '80Mi',
    NSM_SIDECAR_REQUESTS_CPU: '100m',
    NSM_SIDECAR_REQUESTS_MEMORY: '40Mi',
    NSM_ENVS: '',
    NSM_SIDECAR_CLIENT_API: 'unix:///var/run/nsm/nsc.sock',
    NSM_LOG_LEVEL: 'info',
  });
  const mount = c.volumeMounts.find((m: Obj) => m.name === 'tls');
  t.same(mount, { name: 'tls', mountPath: '/etc/nsm/webhook/tls', readOnly: true }, 'whole directory, no subPath, so rotation is seen');
  t.equal(pod.volumes.find((v: Obj) => v.name === 'tls').secret.secretName, 'nsm-webhook-tls');
  const pdb = find(objs, 'PodDisruptionBudget');
  t.equal(pdb.spec.maxUnavailable, 1);
  t.same(pdb.spec.selector.matchLabels, dep.spec.selector.matchLabels);
  const svc = find(objs, 'Service', 'nsm-webhook');
  t.same(svc.spec.ports, [{ name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' }]);
  t.same(svc.spec.selector, dep.spec.selector.matchLabels);

  const custom = find(await render(VARIANTS[7]?.[1]), 'Deployment', 'mesh-webhook').spec.template.spec;
  t.same(custom.imagePullSecrets, [{ name: 'regcred' }]);
  t.equal(custom.priorityClassName, 'high');
  t.same(custom.affinity, { nodeAffinity: {} }, 'user affinity replaces the default');
  t.equal(custom.containers[0].env.find((e: Obj) => e.name === 'NSM_ENVS').value, 'A=1,B=2');
  t.equal(custom.containers[0].env.find((e: Obj) => e.name === 'NSM_SIDECAR_METRICS_LISTEN_ON').value, ':9193', 'the injected sidecar serves metrics when the chart asks');
  const webhookSettings = (await (commands.find(([name]) => name === 'webhook')![1])()).default.env;
  t.ok('NSM_SIDECAR_METRICS_LISTEN_ON' in webhookSettings, 'a setting of nsm webhook');
  const off = find(await render({ injection: { clientApi: '' } }), 'Deployment').spec.template.spec;
  t.equal(off.containers[0].env.find((e: Obj) => e.name === 'NSM_SIDECAR_CLIENT_API').value, '', 'the client API can be turned off');
  t.ok('NSM_SIDECAR_CLIENT_API' in webhookSettings, 'a setting of nsm webhook');
  t.notOk((await render(VARIANTS[6]?.[1])).some((o) => o.kind === 'PodDisruptionBudget'), 'PDB can be turned off');
});

t.test('the forwarder DaemonSet', async (t) => {
  const objs = await render();
  const ds = find(objs, 'DaemonSet', 'nsm-forwarder');
  const pod = ds.spec.template.spec;
  const c = pod.containers[0];
  t.equal(pod.hostNetwork, true);
  t.equal(pod.hostPID, true);
  t.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet');
  t.same(pod.tolerations, [{ operator: 'Exists' }], 'runs on every node');
  t.same(c.securityContext, { privileged: true, runAsUser: 0, runAsGroup: 0, runAsNonRoot: false });
  t.equal(c.image, 'ghcr.io/nsm-project/nsm-sidecar:0.1.0');
  t.same(c.args, ['forwarder']);
  const env = Object.fromEntries(c.env.map((e: Obj) => [e.name, e.value ?? e.valueFrom.fieldRef.fieldPath]));
  t.same(env, {
    NODE_OPTIONS: '--max-semi-space-size=2 --max-old-space-size=256',
    NSM_NAME: 'spec.nodeName',
    NSM_NAMESPACE: 'metadata.namespace',
    NSM_LISTEN_ON: 'unix:///var/lib/networkservicemesh/nsm.io.sock',
    NSM_PEER_LISTEN_ON: 'tcp://:5001',
    NSM_TUNNEL_IP: 'status.podIP',
    NSM_TLS_CA_FILE: '/etc/nsm/peer-tls/ca.crt',
    NSM_TLS_CERT_FILE: '/etc/nsm/peer-tls/tls.crt',
    NSM_TLS_KEY_FILE: '/etc/nsm/peer-tls/tls.key',
    NSM_METRICS_LISTEN_ON: ':9091',
    NSM_LOG_LEVEL: 'info',
  });
  for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) t.same(c[probe].tcpSocket, { port: 'peer' }, probe);
  t.same(c.ports[0], { name: 'peer', containerPort: 5001, hostPort: 5001, protocol: 'TCP' });
  t.ok(c.resources.requests && c.resources.limits);
  t.same(pod.volumes[0], { name: 'nsm-socket', hostPath: { path: '/var/lib/networkservicemesh', type: 'DirectoryOrCreate' } });
  t.same(c.volumeMounts, [
    { name: 'nsm-socket', mountPath: '/var/lib/networkservicemesh' },
    { name: 'peer-tls', mountPath: '/etc/nsm/peer-tls', readOnly: true },
  ]);
  t.equal(pod.volumes[1].secret.secretName, 'nsm-forwarder-peer-tls');
  t.ok(matches({ matchLabels: ds.spec.selector.matchLabels }, ds.spec.template.metadata.labels));
});

t.test('RBAC is least privilege', async (t) => {
  const objs = await render();
  t.same(find(objs, 'ClusterRole', 'nsm-webhook').rules, [
    { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: ['create'] },
  ]);
  t.same(find(objs, 'Role', 'nsm-forwarder').rules, [
    { apiGroups: ['networkservicemesh.io'], resources: ['networkservices', 'networkserviceendpoints'], verbs: ['get', 'create', 'update', 'patch', 'delete'] },
  ], 'forwarders write registrations only in the release namespace');
  t.same(find(objs, 'ClusterRole', 'nsm-forwarder-read').rules, [
    { apiGroups: ['networkservicemesh.io'], resources: ['networkservices', 'networkserviceendpoints'], verbs: ['get', 'list', 'watch'] },
  ], 'and read them in every namespace');
  const bindings: [string, string, string][] = [['ClusterRoleBinding', 'ClusterRole', 'nsm-webhook'], ['RoleBinding', 'Role', 'nsm-forwarder'], ['ClusterRoleBinding', 'ClusterRole', 'nsm-forwarder-read']];
  for (const [kind, roleKind, name] of bindings) {
    const b = find(objs, kind, name);
    t.same(b.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: roleKind, name });
    t.same(b.subjects, [{ kind: 'ServiceAccount', name: name.replace(/-read$/, ''), namespace: 'nsm-system' }]);
  }
  for (const o of objs) t.notOk(Object.keys(o.metadata.labels ?? {}).some((l) => l.startsWith('rbac.authorization.k8s.io/aggregate')), 'no aggregation labels');
  t.equal(objs.filter((o) => /Role/.test(o.kind)).length, 6, 'no other roles');
});

t.test('the webhook configuration', async (t) => {
  const cfg = find(await render(), 'MutatingWebhookConfiguration');
  t.equal(cfg.metadata.annotations['cert-manager.io/inject-ca-from'], 'nsm-system/nsm-webhook');
  t.same(cfg.webhooks.map((w: Obj) => w.name), ['annotated-pods.networkservicemesh.io', 'labelled-namespaces.networkservicemesh.io']);
  for (const w of cfg.webhooks) {
    t.same(w.admissionReviewVersions, ['v1']);
    t.equal(w.sideEffects, 'None');
    t.equal(w.failurePolicy, 'Fail');
    t.equal(w.timeoutSeconds, 10);
    t.equal(w.reinvocationPolicy, 'IfNeeded');
    t.same(w.rules, [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }]);
    t.same(w.clientConfig, { service: { name: 'nsm-webhook', namespace: 'nsm-system', path: '/mutate', port: 443 } });
  }
  const [annotated, labelled] = cfg.webhooks as Obj[];
  t.same(annotated?.matchConditions.map((c: Obj) => c.expression), [
    "has(object.metadata.annotations) && 'networkservicemesh.io' in object.metadata.annotations",
    "!has(object.metadata.annotations) || !('networkservicemesh.io/inject' in object.metadata.annotations) || object.metadata.annotations['networkservicemesh.io/inject'] != 'false'",
  ]);
  t.same(labelled?.matchConditions.map((c: Obj) => c.expression), [
    "!has(object.metadata.annotations) || !('networkservicemesh.io' in object.metadata.annotations)",
    annotated?.matchConditions[1].expression,
  ], 'the two entries are disjoint: with and without the pod annotation');

  const off = find(await render({ webhook: { matchConditions: { enabled: false }, failurePolicy: 'Ignore', timeoutSeconds: 5 } }), 'MutatingWebhookConfiguration');
  t.equal(off.webhooks.length, 1, 'without matchConditions one entry sees every pod and the webhook decides');
  t.notOk('matchConditions' in off.webhooks[0]);
  t.equal(off.webhooks[0].failurePolicy, 'Ignore');
  t.equal(off.webhooks[0].timeoutSeconds, 5);
  const renamed = find(await render({ injection: { annotation: 'example.com/ns' } }), 'MutatingWebhookConfiguration');
  t.match(renamed.webhooks[0].matchConditions[0].expression, /'example\.com\/ns' in object\.metadata\.annotations/);
});

t.test('namespaceSelector excludes system namespaces and the release namespace', async (t) => {
  for (const ns of ['nsm-system', 'other-ns']) {
    const cfg = find(await render({ webhook: { excludeNamespaces: ['cert-manager'] } }, { namespace: ns }), 'MutatingWebhookConfiguration');
    const [annotated, labelled] = cfg.webhooks.map((w: Obj) => w.namespaceSelector as LabelSelector);
    for (const excluded of ['kube-system', 'kube-public', 'kube-node-lease', ns, 'cert-manager']) {
      const labelledNs = namespaceLabels(excluded, { 'networkservicemesh.io/inject': 'enabled' });
      t.notOk(matches(annotated, labelledNs), `annotated-pods skips ${excluded}`);
      t.notOk(matches(labelled, labelledNs), `labelled-namespaces skips ${excluded} even when labelled`);
    }
    t.ok(matches(annotated, namespaceLabels('default')), 'annotated pods of default are sent');
    t.ok(matches(annotated, namespaceLabels('team-a', { 'networkservicemesh.io/inject': 'enabled' })));
    t.notOk(matches(labelled, namespaceLabels('default')), 'unlabelled namespaces: only annotated pods');
    t.notOk(matches(labelled, namespaceLabels('team-a', { 'networkservicemesh.io/inject': 'disabled' })));
    t.ok(matches(labelled, namespaceLabels('team-a', { 'networkservicemesh.io/inject': 'enabled' })));
    t.notOk(matches(annotated, { 'kubernetes.io/metadata.name': 'kube-system', 'x': 'y' }), 'a namespace label cannot re-include kube-system');
  }
});

t.test('objectSelector excludes the webhook and forwarder pods and nothing else', async (t) => {
  const objs = await render();
  const cfg = find(objs, 'MutatingWebhookConfiguration');
  for (const w of cfg.webhooks) {
    for (const kind of ['Deployment', 'DaemonSet']) {
      t.notOk(matches(w.objectSelector, find(objs, kind).spec.template.metadata.labels), `${w.name} skips the ${kind} pods`);
    }
    t.ok(matches(w.objectSelector, {}), 'an unlabelled pod is sent');
    t.ok(matches(w.objectSelector, { app: 'web', 'app.kubernetes.io/component': 'webhook' }), 'a user pod with common labels is sent');
  }
});

t.test('cert-manager mode', async (t) => {
  const objs = await render();
  t.same(objs.filter((o) => o.kind === 'Issuer').map((o) => o.metadata.name), ['nsm-selfsigned', 'nsm-webhook-ca', 'nsm-peer-ca']);
  t.notOk(objs.some((o) => o.kind === 'Secret'), 'no Secrets: cert-manager writes them');
  const webhookCert = find(objs, 'Certificate', 'nsm-webhook');
  t.equal(webhookCert.spec.secretName, 'nsm-webhook-tls');
  t.same(webhookCert.spec.dnsNames, ['nsm-webhook', 'nsm-webhook.nsm-system', 'nsm-webhook.nsm-system.svc']);
  t.same(webhookCert.spec.issuerRef, { name: 'nsm-webhook-ca', kind: 'Issuer', group: 'cert-manager.io' });
  const peer = find(objs, 'Certificate', 'nsm-forwarder-peer');
  t.equal(peer.spec.secretName, 'nsm-forwarder-peer-tls');
  t.same(peer.spec.usages, ['server auth', 'client auth', 'digital signature']);
  t.same(peer.spec.issuerRef, { name: 'nsm-peer-ca', kind: 'Issuer', group: 'cert-manager.io' });
  for (const ca of ['nsm-webhook-ca', 'nsm-peer-ca']) {
    const c = find(objs, 'Certificate', ca);
    t.equal(c.spec.isCA, true);
    t.equal(find(objs, 'Issuer', ca).spec.ca.secretName, c.spec.secretName);
  }
  t.notOk(find(objs, 'MutatingWebhookConfiguration').webhooks[0].clientConfig.caBundle, 'cainjector fills caBundle');

  const own = await render({ tls: { certManager: { issuerRef: { name: 'corp-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' } } } });
  t.notOk(own.some((o) => o.kind === 'Issuer'), 'an existing issuer: no Issuers created');
  t.same(own.filter((o) => o.kind === 'Certificate').map((o) => o.spec.issuerRef.name), ['corp-ca', 'corp-ca']);
});

function secretPem(secret: Obj, key: string): string {
  return Buffer.from(secret.data[key], 'base64').toString();
}

/** A TLS server with the Secret's certificate, and a client presenting the same (for mutual TLS) while trusting `trusted`'s CA. */
async function handshake(server: Obj, servername: string, trusted: Obj): Promise<string> {
  const keyPair = { cert: secretPem(server, 'tls.crt'), key: secretPem(server, 'tls.key') };
  const listener = tls.createServer({ ...keyPair, ca: secretPem(server, 'ca.crt'), requestCert: true, rejectUnauthorized: true }, (s) => s.end('ok'));
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  try {
    const { port } = listener.address() as AddressInfo;
    const socket = tls.connect({ host: '127.0.0.1', port, servername, ca: secretPem(trusted, 'ca.crt'), ...keyPair });
    // events.once rejects on 'error': a refused handshake comes back as the error's code.
    const outcome = await once(socket, 'data').then(([d]) => String(d), (e: { code?: string }) => String(e.code));
    socket.destroy();
    return outcome;
  } finally {
    listener.close();
  }
}

/** The kinds the chart renders, so helm can map them when it renders against the fixture API server. */
const chartKinds: ResourceDef[] = [
  ['v1', 'Secret', 'secrets'], ['v1', 'ServiceAccount', 'serviceaccounts'], ['v1', 'Service', 'services'],
  ['policy/v1', 'PodDisruptionBudget', 'poddisruptionbudgets'], ['apps/v1', 'DaemonSet', 'daemonsets'], ['apps/v1', 'Deployment', 'deployments'],
  ['rbac.authorization.k8s.io/v1', 'Role', 'roles'], ['rbac.authorization.k8s.io/v1', 'RoleBinding', 'rolebindings'],
  ['rbac.authorization.k8s.io/v1', 'ClusterRole', 'clusterroles', false], ['rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'clusterrolebindings', false],
  ['admissionregistration.k8s.io/v1', 'MutatingWebhookConfiguration', 'mutatingwebhookconfigurations', false],
].map(([apiVersion, kind, plural, namespaced]) => {
  const [group, version] = String(apiVersion).includes('/') ? String(apiVersion).split('/') : ['', String(apiVersion)];
  return { group: group ?? '', version: version ?? '', kind: String(kind), plural: String(plural), namespaced: namespaced !== false };
});

t.test('self-signed mode generates certificates once and keeps them across upgrades', async (t) => {
  const objs = await render({ tls: { mode: 'selfSigned' } });
  t.notOk(objs.some((o) => o.apiVersion === 'cert-manager.io/v1'), 'no cert-manager objects');
  const cfg = find(objs, 'MutatingWebhookConfiguration');
  t.notOk(cfg.metadata.annotations, 'no cainjector annotation');
  const secret = find(objs, 'Secret', 'nsm-webhook-tls');
  t.equal(secret.type, 'kubernetes.io/tls');
  for (const w of cfg.webhooks) t.equal(w.clientConfig.caBundle, secret.data['ca.crt'], 'caBundle is the CA in the Secret');
  const ca = new X509Certificate(secretPem(secret, 'ca.crt'));
  const cert = new X509Certificate(secretPem(secret, 'tls.crt'));
  t.ok(cert.checkIssued(ca) && cert.verify(ca.publicKey), 'serving certificate signed by that CA');
  t.equal(cert.checkHost('nsm-webhook.nsm-system.svc'), 'nsm-webhook.nsm-system.svc', 'valid for the Service name the API server uses');
  const peer = find(objs, 'Secret', 'nsm-forwarder-peer-tls');
  const peerCa = new X509Certificate(secretPem(peer, 'ca.crt'));
  const peerCert = new X509Certificate(secretPem(peer, 'tls.crt'));
  t.ok(peerCert.checkIssued(peerCa), 'peer certificate signed by the peer CA');
  t.notOk(peerCert.checkIssued(ca), 'the webhook CA does not sign peers');
  t.equal(peerCert.checkHost('nsm-forwarder.nsm-system'), 'nsm-forwarder.nsm-system');
  t.ok(cert.keyUsage?.includes('1.3.6.1.5.5.7.3.1'), 'server auth');
  t.ok(peerCert.keyUsage?.includes('1.3.6.1.5.5.7.3.1') && peerCert.keyUsage?.includes('1.3.6.1.5.5.7.3.2'), 'peers are servers and clients');
  t.equal(await handshake(secret, 'nsm-webhook.nsm-system.svc', secret), 'ok', 'a client trusting only the CA accepts the webhook');
  t.equal(await handshake(peer, 'nsm-forwarder.nsm-system', peer), 'ok', 'forwarders authenticate each other (mutual TLS)');
  t.match(await handshake(secret, 'nsm-webhook.nsm-system.svc', peer), /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER|SELF_SIGNED/, 'the peer CA does not vouch for the webhook');

  const api = await startFixtureApiServer(...chartKinds);
  t.teardown(() => api.close());
  api.create('namespaces', { metadata: { name: 'nsm-system' } });
  api.create('secrets', secret);
  api.create('secrets', peer);
  const kubeconfig = api.writeKubeconfig(join(t.testdir(), 'kubeconfig'));
  const upgraded = await render({ tls: { mode: 'selfSigned' } }, { isUpgrade: true, kubeconfig });
  t.ok(api.requests.includes('GET /api/v1/namespaces/nsm-system/secrets/nsm-webhook-tls'), 'helm looked the Secret up in the cluster');
  t.same(find(upgraded, 'Secret', 'nsm-webhook-tls').data, secret.data, 'upgrade keeps the webhook certificate');
  t.same(find(upgraded, 'Secret', 'nsm-forwarder-peer-tls').data, peer.data, 'upgrade keeps the peer certificate');
  t.equal(find(upgraded, 'MutatingWebhookConfiguration').webhooks[0].clientConfig.caBundle, secret.data['ca.crt']);
  const again = await render({ tls: { mode: 'selfSigned' } });
  t.not(find(again, 'Secret', 'nsm-webhook-tls').data['ca.crt'], secret.data['ca.crt'], 'without an existing Secret a new CA is made');
});

t.test('provided mode uses the given Secrets and CA bundle', async (t) => {
  const objs = await render(PROVIDED);
  t.notOk(objs.some((o) => o.kind === 'Secret' || o.apiVersion === 'cert-manager.io/v1'));
  const cfg = find(objs, 'MutatingWebhookConfiguration');
  for (const w of cfg.webhooks) t.equal(w.clientConfig.caBundle, 'Q0EK');
  t.equal(find(objs, 'Deployment').spec.template.spec.volumes[0].secret.secretName, 'my-webhook-tls');
  t.equal(find(objs, 'DaemonSet').spec.template.spec.volumes[1].secret.secretName, 'my-peer-tls');
});

t.test('metrics monitors are off by default and select the right pods', async (t) => {
  t.notOk((await render()).some((o) => o.apiVersion === 'monitoring.coreos.com/v1'));
  const pm = await render({ metrics: { monitor: { enabled: true, labels: { release: 'prom' } } } });
  for (const component of ['webhook', 'forwarder']) {
    const m = find(pm, 'PodMonitor', `nsm-${component}`);
    t.equal(m.metadata.labels.release, 'prom');
    const kind = component === 'webhook' ? 'Deployment' : 'DaemonSet';
    t.ok(matches(m.spec.selector, find(pm, kind).spec.template.metadata.labels), `${component} PodMonitor selects its pods`);
    t.same(m.spec.podMetricsEndpoints, [{ port: 'metrics', path: '/metrics', interval: '30s' }]);
    // The port scraped is the one the component opens: its container port named metrics is the
    // port of NSM_METRICS_LISTEN_ON, a setting the component has (a mistyped one would be ignored).
    const container = find(pm, kind).spec.template.spec.containers[0];
    const port = container.ports.find((x: Obj) => x.name === 'metrics').containerPort;
    const listenOn = container.env.find((e: Obj) => e.name === 'NSM_METRICS_LISTEN_ON')?.value;
    t.equal(listenOn, `:${port}`, `${component} serves metrics on the monitored port`);
    const command = component === 'webhook' ? 'webhook' : 'forwarder';
    const schema = (await (commands.find(([name]) => name === command)![1])()).default.env;
    t.ok('NSM_METRICS_LISTEN_ON' in schema, `nsm ${command} has the setting`);
    t.same(container.env.map((e: Obj) => e.name as string).filter((n: string) => n.startsWith('NSM_') && !(n in schema)), [], `every NSM_ variable of the ${component} is a setting of nsm ${command}`);
  }
  const sm = await render({ metrics: { monitor: { enabled: true, kind: 'ServiceMonitor' } } });
  for (const component of ['webhook', 'forwarder']) {
    const m = find(sm, 'ServiceMonitor', `nsm-${component}`);
    const svc = find(sm, 'Service', `nsm-${component}-metrics`);
    t.ok(matches(m.spec.selector, svc.metadata.labels), `${component} ServiceMonitor selects its Service`);
    t.notOk(matches(m.spec.selector, find(sm, 'Service', 'nsm-webhook').metadata.labels), 'and not the webhook Service');
    const kind = component === 'webhook' ? 'Deployment' : 'DaemonSet';
    t.ok(matches({ matchLabels: svc.spec.selector }, find(sm, kind).spec.template.metadata.labels), 'the Service selects the pods');
  }
});

t.test('helm lint --strict passes, and fails on a broken template', async (t) => {
  const lint = await helm(['lint', '--strict', chartDir]);
  t.equal(lint.code, 0, lint.stdout + lint.stderr);
  t.match(lint.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  const broken = join(t.testdir(), 'nsm');
  cpSync(chartDir, broken, { recursive: true });
  writeFileSync(join(broken, 'templates', 'broken.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata: [\n');
  const bad = await helm(['lint', '--strict', broken]);
  t.not(bad.code, 0, 'a template that is not YAML fails the lint');
  t.match(bad.stdout + bad.stderr, /broken\.yaml/);
});

t.test('values.yaml meets values.schema.json and helm template refuses wrong values', async (t) => {
  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['failurePolicy: Maybe', { webhook: { failurePolicy: 'Maybe' } }, /'\/webhook\/failurePolicy': value must be one of 'Fail', 'Ignore'/],
    ['unknown key', { webhook: { replicas: 3 } }, /'\/webhook': additional properties 'replicas' not allowed/],
    ['unknown top-level key', { replicaCount: 3 }, /at '': additional properties 'replicaCount' not allowed/],
    ['tls mode', { tls: { mode: 'vault' } }, /'\/tls\/mode': value must be one of/],
    ['timeout above 30 s', { webhook: { timeoutSeconds: 31 } }, /'\/webhook\/timeoutSeconds': maximum: got 31, want 30/],
    ['port as a string', { webhook: { port: '8443' } }, /'\/webhook\/port': got string, want integer/],
    ['privileged port', { webhook: { port: 443 } }, /'\/webhook\/port': minimum: got 443, want 1,024/],
    ['provided mode without Secrets', { tls: { mode: 'provided' } }, /'\/tls\/provided\/webhookSecretName': minLength: got 0, want 1/],
    ['bad NSM_ENVS entry', { injection: { envs: ['NOEQUALS'] } }, /'\/injection\/envs\/0': 'NOEQUALS' does not match pattern/],
    ['nativeSidecar', { injection: { nativeSidecar: 'yes' } }, /'\/injection\/nativeSidecar': value must be one of/],
    ['privileged sidecar metrics port', { injection: { sidecarMetrics: { enabled: true, port: 80 } } }, /'\/injection\/sidecarMetrics\/port': minimum: got 80, want 1,024/],
    ['client API over TCP', { injection: { clientApi: 'tcp://:5000' } }, /'\/injection\/clientApi': 'tcp:\/\/:5000' does not match pattern/],
  ];
  for (const [name, values, err] of bad) {
    await t.rejects(render(values), err, name);
  }
  await t.rejects(render({ webhook: { failurePolicy: 'Maybe' } }), /values don't meet the specifications of the schema/);
  t.ok((await render()).length > 5, 'the defaults pass');
});

t.test('a default removed by null', async (t) => {
  const dep = find(await render({ webhook: { nodeSelector: null } }), 'Deployment');
  t.notOk('nodeSelector' in dep.spec.template.spec);
});

t.test('every template file and NOTES.txt render', async (t) => {
  const sources = new Set<string>();
  let notes = '';
  for (const values of [{ tls: { mode: 'selfSigned' }, metrics: { monitor: { enabled: true } } }, {}]) {
    const r = await helm(['install', 'nsm', chartDir, '--namespace', 'nsm-system', '--dry-run=client', '--output', 'json', '--values', '-'], JSON.stringify(values));
    t.equal(r.code, 0, r.stderr);
    const release = JSON.parse(r.stdout) as { manifest: string; info: { notes: string } };
    for (const d of documents(release.manifest, 'manifest')) sources.add(d.source.replace('nsm/templates/', ''));
    notes ||= release.info.notes;
  }
  const templates = readdirSync(join(chartDir, 'templates')).filter((f) => !f.startsWith('_') && f !== 'NOTES.txt');
  t.same([...sources].sort(), templates.sort(), 'self-signed with monitors, then cert-manager: every template renders objects');
  t.match(notes, /nsm 0\.1\.0 is installed in namespace nsm-system/);
  t.match(notes, /kubectl label namespace <ns> networkservicemesh\.io\/inject=enabled/);
});

const crdFiles = readdirSync(join(chartDir, 'crds')).sort();

t.test('the CRDs, as helm template --include-crds renders them', async (t) => {
  const want: Record<string, [string, string[]]> = {
    'networkservices.networkservicemesh.io': ['NetworkService', ['netsvc', 'netsvcs']],
    'networkserviceendpoints.networkservicemesh.io': ['NetworkServiceEndpoint', ['nse', 'nses']],
  };
  t.same(crdFiles, Object.keys(want).map((n) => `${n}.yaml`).sort());
  const crds = (await helmTemplate({}, { includeCrds: true })).filter((d) => d.obj.kind === 'CustomResourceDefinition');
  t.same(crds.map((d) => d.source).sort(), crdFiles.map((f) => `nsm/crds/${f}`));
  t.notOk((await render()).some((o) => o.kind === 'CustomResourceDefinition'), 'without --include-crds helm leaves them out');
  for (const { source, obj: crd } of crds) {
    t.doesNotThrow(() => validate(crd), source);
    const [kind, shortNames] = want[crd.metadata.name] ?? ['', []];
    t.equal(crd.spec.group, 'networkservicemesh.io');
    t.equal(crd.spec.scope, 'Namespaced');
    t.equal(crd.spec.names.kind, kind);
    t.same(crd.spec.names.shortNames, shortNames);
    t.equal(crd.spec.names.plural, crd.metadata.name.split('.')[0]);
    t.same(crd.spec.versions, [{
      name: 'v1', served: true, storage: true,
      schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } } },
    }]);
  }
});

t.test('manifests/crds holds the same files as the chart crds/', async (t) => {
  const dir = join(root, 'manifests', 'crds');
  t.same(readdirSync(dir).sort(), crdFiles);
  for (const file of crdFiles) t.equal(readFileSync(join(dir, file), 'utf8'), readFileSync(join(chartDir, 'crds', file), 'utf8'), file);
});

t.test('manifests/install.yaml equals a fresh rendering of the chart', async (t) => {
  const committed = readFileSync(join(root, 'manifests', 'install.yaml'), 'utf8');
  t.equal(committed, await renderInstall(), 'run `npm run render:install` after changing the chart');
  const objs = documents(committed, 'install.yaml').map((d) => d.obj);
  for (const obj of objs) t.doesNotThrow(() => validate(obj), `install.yaml: ${obj.kind}/${obj.metadata.name}`);
  t.equal(objs[0]?.kind, 'Namespace');
  t.equal(objs[0]?.metadata.name, INSTALL_RELEASE.namespace);
  t.equal(objs[0]?.metadata.labels['pod-security.kubernetes.io/enforce'], 'privileged', 'the forwarder is privileged');
  t.equal(objs.at(-1)?.kind, 'MutatingWebhookConfiguration', 'the webhook is registered last');
  const rendered = (await render()).map((o) => `${o.kind}/${o.metadata.name}`).sort();
  const installed = objs.filter((o) => !['Namespace', 'CustomResourceDefinition'].includes(o.kind)).map((o) => `${o.kind}/${o.metadata.name}`).sort();
  t.same(installed, rendered, 'the same objects as the chart with default values');
  t.equal(objs.filter((o) => o.kind === 'CustomResourceDefinition').length, 2);
  t.same(documents('a: 0440', 'yaml 1.1')[0]?.obj, { a: 288 }, 'YAML 1.1 reading, as Kubernetes reads manifests');
});
