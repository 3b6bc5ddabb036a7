// Builds manifests/install.yaml, the `kubectl apply` form of the chart: the release namespace,
// the CRDs, then the chart rendered with its default values (TLS from cert-manager) as release
// "nsm" in namespace "nsm-system", in an order where every object's dependencies come first.

import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadChart, renderChart } from './chart.ts';

export const INSTALL_RELEASE = { name: 'nsm', namespace: 'nsm-system' };

const ORDER = [
  'Namespace',
  'CustomResourceDefinition',
  'ServiceAccount',
  'ClusterRole',
  'ClusterRoleBinding',
  'Role',
  'RoleBinding',
  'Secret',
  'Issuer',
  'Certificate',
  'Service',
  'Deployment',
  'DaemonSet',
  'PodDisruptionBudget',
  'PodMonitor',
  'ServiceMonitor',
  'MutatingWebhookConfiguration',
];

export function renderInstall(chartDir: string): string {
  const chart = loadChart(chartDir);
  const rendered = renderChart(chart, { release: INSTALL_RELEASE });
  const docs: { source: string; kind: string; text: string }[] = [
    {
      source: 'namespace',
      kind: 'Namespace',
      // The forwarder is privileged (host network and PID namespaces), so the namespace must
      // allow privileged pods under Pod Security Admission.
      text: stringify(
        {
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: {
            name: INSTALL_RELEASE.namespace,
            labels: { 'app.kubernetes.io/part-of': 'nsm', 'pod-security.kubernetes.io/enforce': 'privileged' },
          },
        },
        { version: '1.1', lineWidth: 0 },
      ),
    },
  ];
  for (const [file, text] of chart.crds) {
    docs.push({ source: `${chart.name}/crds/${file}`, kind: 'CustomResourceDefinition', text });
  }
  for (const { source, obj } of rendered.objects) {
    docs.push({ source, kind: String(obj.kind), text: stringify(obj, { version: '1.1', lineWidth: 0 }) });
  }
  const rank = (kind: string): number => {
    const i = ORDER.indexOf(kind);
    if (i < 0) throw new Error(`install.yaml: no apply order for kind ${kind}`);
    return i;
  };
  docs.sort((a, b) => rank(a.kind) - rank(b.kind));
  const version = String(chart.meta.appVersion);
  const header = [
    `# nsm ${version}: everything \`kubectl apply -f\` needs, in namespace ${INSTALL_RELEASE.namespace}.`,
    '# Needs cert-manager (certificates of the webhook and of the forwarders).',
    '# Generated from manifests/helm/nsm with its default values by `node scripts/render-install.ts`;',
    '# edit the chart, not this file.',
  ].join('\n');
  return `${header}\n${docs.map((d) => `---\n# Source: ${d.source}\n${d.text.trimEnd()}\n`).join('')}`;
}

export function defaultChartDir(repoRoot: string): string {
  return join(repoRoot, 'manifests', 'helm', 'nsm');
}
