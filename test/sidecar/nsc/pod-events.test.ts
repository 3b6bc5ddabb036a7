import t, { type Test } from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { pino } from 'pino';
import { podProblemReporter } from '../../../sidecar/nsc/pod-events.ts';
import { startFixtureApiServer, type FixtureApiServer } from '../../fixtures/kube-api-server.ts';

const EVENTS = { group: '', version: 'v1', plural: 'events', kind: 'Event', namespaced: true };

function logLines() {
  const lines: Array<Record<string, unknown>> = [];
  return { lines, log: pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) }) };
}

const pod = { name: 'alpine', namespace: 'default' };

/** KUBECONFIG names the fixture server for the rest of the test (plain HTTP: @kubernetes/client-node allows it only without TLS verification). */
function useKubeconfig(t: Test, api: FixtureApiServer): void {
  const path = api.writeKubeconfig(join(t.testdir(), 'kubeconfig'));
  const config = JSON.parse(readFileSync(path, 'utf8')) as { clusters: Array<{ cluster: Record<string, unknown> }> };
  config.clusters[0].cluster['insecure-skip-tls-verify'] = true;
  writeFileSync(path, JSON.stringify(config));
  setKubeconfig(t, path);
}

function setKubeconfig(t: Test, path: string): void {
  const before = process.env.KUBECONFIG;
  process.env.KUBECONFIG = path;
  t.teardown(() => { if (before === undefined) delete process.env.KUBECONFIG; else process.env.KUBECONFIG = before; });
}

t.test('a problem is logged, and made an Event on the pod when the API can be reached', async (t) => {
  const api = await startFixtureApiServer(EVENTS);
  t.teardown(() => api.close());
  useKubeconfig(t, api);

  const { lines, log } = logLines();
  await podProblemReporter(pod, log)('NetworkServicesNotChanged', 'annotation networkservicemesh.io: bad');
  t.equal(lines.length, 1);
  t.match(lines[0], { level: 40, reason: 'NetworkServicesNotChanged', msg: 'annotation networkservicemesh.io: bad' }, 'the log says it');
  const events = await api.kubeConfig().makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: 'default' });
  t.equal(events.items.length, 1);
  t.match(events.items[0], {
    type: 'Warning',
    reason: 'NetworkServicesNotChanged',
    message: 'annotation networkservicemesh.io: bad',
    involvedObject: { apiVersion: 'v1', kind: 'Pod', name: 'alpine', namespace: 'default' },
    source: { component: 'nsm-nsc' },
    count: 1,
  }, 'what kubectl describe pod shows');
  t.match(events.items[0].metadata?.name, /^alpine\./, 'named after the pod');
});

t.test('an Event the API refuses is said once in the log; the problems are still logged', async (t) => {
  const api = await startFixtureApiServer(); // serves no events: the API answers 404, as it would without the resource
  t.teardown(() => api.close());
  useKubeconfig(t, api);

  const { lines, log } = logLines();
  const report = podProblemReporter(pod, log);
  await report('NetworkServicesNotChanged', 'first');
  await report('NetworkServicesNotChanged', 'second');
  t.same(lines.map((l) => l.msg), [
    'first',
    'could not create an Event on the pod; problems are logged here (in a cluster, the pod\'s service account needs create on events)',
    'second',
  ]);
  t.type(lines[1].err, 'string', 'with the API\'s answer');
});

t.test('without a Kubernetes API, or with a kubeconfig that cannot be read, problems are only logged', async (t) => {
  const { lines, log } = logLines();
  await podProblemReporter(pod, log, {})('R', 'no api');
  t.same(lines.map((l) => l.msg), ['no api'], 'outside a cluster, no KUBECONFIG: the log alone');

  await podProblemReporter({ name: 'alpine', namespace: '' }, log, { KUBECONFIG: '/x' })('R', 'no namespace');
  t.equal(lines.at(-1)?.msg, 'no namespace', 'no POD_NAMESPACE: nowhere to make an Event');

  const dir = t.testdir();
  const broken = join(dir, 'kubeconfig');
  writeFileSync(broken, 'clusters: [not: a: kubeconfig');
  setKubeconfig(t, broken);
  const { lines: said, log: log2 } = logLines();
  await podProblemReporter(pod, log2, { KUBECONFIG: broken })('R', 'broken config');
  t.same(said.map((l) => l.msg), ['no Kubernetes API: problems are only logged', 'broken config']);
});
