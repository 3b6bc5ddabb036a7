/**
 * Kubernetes' rule for extended resource names (IsExtendedResourceName), the names a device plugin
 * may register and a pod may put in resources.limits: `<domain>/<name>`, the domain not
 * kubernetes.io, and `requests.<domain>/<name>` a qualified name (a DNS subdomain of at most 253
 * characters, a slash, a name of at most 63). The kubelet refuses a Register that breaks it.
 */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const EXAMPLE = 'nsm.example.com/radio';

/** Why `name` is not an extended resource name, or undefined when it is. */
export function extendedResourceProblem(name: string): string | undefined {
  const shown = JSON.stringify(name);
  const parts = name.split('/');
  if (parts.length !== 2) return `${shown} is not an extended resource name: write it <domain>/<name>, such as ${EXAMPLE}`;
  const [domain, local] = parts;
  if (name.includes('kubernetes.io/')) return `${shown} is in the kubernetes.io domain, which is Kubernetes' own: use a domain of yours, such as ${EXAMPLE}`;
  if (name.startsWith('requests.')) return `${shown} starts with "requests.", which Kubernetes keeps for quotas`;
  const quotaDomain = `requests.${domain}`;
  if (domain === '' || quotaDomain.length > 253 || !quotaDomain.split('.').every((l) => DNS_LABEL.test(l))) {
    return `${shown}: its domain ${JSON.stringify(domain)} is not a DNS subdomain (lower-case letters, digits, '-' and '.', at most ${253 - 'requests.'.length} characters)`;
  }
  if (local.length > 63 || !NAME.test(local)) return `${shown}: its name ${JSON.stringify(local)} must be 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`;
  return undefined;
}
