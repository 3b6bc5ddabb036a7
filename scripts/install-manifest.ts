// Builds manifests/install.yaml, the `kubectl apply` form of the chart: the release namespace, then
// `helm template --include-crds` of the chart with its default values (TLS from cert-manager) as
// release "nsm" in namespace "nsm-system". Helm orders the objects (CRDs first); the webhook
// configuration is moved last, so the API server calls the webhook only once everything it needs
// exists.

import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { kubeTools } from './kube-tools.ts';

export const INSTALL_RELEASE = { name: 'nsm', namespace: 'nsm-system' };

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const chartDir = join(root, 'manifests', 'helm', 'nsm');

// The forwarder is privileged (host network and PID namespaces), so the namespace must allow
// privileged pods under Pod Security Admission.
const NAMESPACE = `# Source: namespace
apiVersion: v1
kind: Namespace
metadata:
  name: ${INSTALL_RELEASE.namespace}
  labels:
    app.kubernetes.io/part-of: nsm
    pod-security.kubernetes.io/enforce: privileged
`;

export async function renderInstall(): Promise<string> {
  const { helm } = await kubeTools();
  const { stdout } = await promisify(execFile)(helm, ['template', INSTALL_RELEASE.name, chartDir, '--namespace', INSTALL_RELEASE.namespace, '--include-crds'], { maxBuffer: 16 << 20 });
  const docs = stdout.split(/^---\n/m).map((d) => d.trim()).filter((d) => d !== '');
  const last = docs.filter((d) => /^kind: MutatingWebhookConfiguration$/m.test(d));
  const ordered = [NAMESPACE.trim(), ...docs.filter((d) => !last.includes(d)), ...last];
  const version = String((parse(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8')) as { appVersion: unknown }).appVersion);
  const header = [
    `# nsm ${version}: everything \`kubectl apply -f\` needs, in namespace ${INSTALL_RELEASE.namespace}.`,
    '# Needs cert-manager (certificates of the webhook and of the forwarders).',
    '# Generated from manifests/helm/nsm with its default values by `npm run render:install`',
    '# (helm template --include-crds); edit the chart, not this file.',
  ].join('\n');
  return `${header}\n${ordered.map((d) => `---\n${d}\n`).join('')}`;
}
