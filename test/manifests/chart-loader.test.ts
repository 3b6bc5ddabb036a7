import t from 'tap';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { coalesce, loadChart, renderChart } from '../../manifests/render/chart.ts';
import { defaultChartDir, renderInstall } from '../../manifests/render/install.ts';
import { truth, Struct } from '../../manifests/render/values.ts';

const release = { name: 'r', namespace: 'ns' };
const chartYaml = 'apiVersion: v2\nname: c\nversion: 1.0.0\nappVersion: "2"\n';
const schema = JSON.stringify({ type: 'object' });

type Fixture = Parameters<typeof t.testdir>[0];

function fixture(files: Record<string, unknown>): Fixture {
  return { 'Chart.yaml': chartYaml, 'values.yaml': 'a: 1\n', 'values.schema.json': schema, crds: {}, templates: {}, ...files } as Fixture;
}

t.test('the loader refuses what it does not understand', async (t) => {
  t.throws(() => loadChart(t.testdir(fixture({ templates: { sub: { 'a.yaml': '' } } }))), /sub-directories are not supported/);
  t.throws(() => loadChart(t.testdir(fixture({ templates: { 'a.json': '' } }))), /unexpected file/);
  t.throws(() => loadChart(t.testdir(fixture({ 'Chart.yaml': 'version: 1\n' }))), /Chart.yaml: needs a name/);
  t.throws(() => loadChart(t.testdir(fixture({ 'values.yaml': '- a\n' }))), /values.yaml: must be a map/);
});

t.test('rendering refuses documents that are not Kubernetes objects', async (t) => {
  const bad = (tpl: string): string => t.testdir(fixture({ templates: { 'a.yaml': tpl } }));
  t.throws(() => renderChart(loadChart(bad('a: [\n')), { release }), /a.yaml: invalid YAML/);
  t.throws(() => renderChart(loadChart(bad('a: 1\n')), { release }), /every document must be an object with apiVersion and kind/);
  t.throws(() => renderChart(loadChart(bad('a: 1\na: 2\n')), { release }), /invalid YAML/);
  const twice = t.testdir(fixture({ templates: { '_a.tpl': '{{ define "x" }}{{ end }}', '_b.tpl': '{{ define "x" }}{{ end }}' } }));
  t.throws(() => renderChart(loadChart(twice), { release }), /template "x" defined twice/);
});

t.test('built-in objects and values', async (t) => {
  const dir = t.testdir(fixture({
    templates: {
      'cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  chart: {{ .Chart.Name }}-{{ .Chart.AppVersion }}\n  a: {{ .Values.a | quote }}\n  upgrade: {{ .Release.IsUpgrade | quote }}\n',
    },
  }));
  const r = renderChart(loadChart(dir), { release: { ...release, isUpgrade: true }, values: { a: 'x' } });
  t.same(r.objects[0]?.obj.data, { chart: 'c-2', a: 'x', upgrade: 'true' });
  t.same(coalesce({ a: { b: 1, c: 2 }, d: [1] }, { a: { c: null, e: 3 }, d: [2] }), { a: { b: 1, e: 3 }, d: [2] }, 'null removes a default');
  t.throws(() => renderInstall(dir), /no apply order for kind ConfigMap/, 'install.yaml refuses kinds it cannot order');
  t.ok(truth(new Struct({})), 'a struct is always true');
});

t.test('the real chart with a default removed by null', async (t) => {
  const r = renderChart(loadChart(defaultChartDir(join(dirname(fileURLToPath(import.meta.url)), '..', '..'))), {
    release,
    values: { webhook: { nodeSelector: null } },
  });
  const dep = r.objects.find((o) => o.obj.kind === 'Deployment')?.obj as { spec: { template: { spec: Record<string, unknown> } } };
  t.notOk('nodeSelector' in dep.spec.template.spec);
});
