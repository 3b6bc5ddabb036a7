import { formatNsUrl, type NsUrl } from '../../proto/api.ts';

/** The NS URL label naming the device pool resource a connection claims a token of (upstream's). */
export const SRIOV_TOKEN_LABEL = 'sriovToken';
const ENV_PREFIX = 'NSM_SRIOV_TOKENS_';

export interface TokenClaims {
  /** The token each URL claims, by its index in NSM_NETWORK_SERVICES. */
  tokens: Map<number, string>;
  /** Why a URL that names a resource has no token (what to put in resources.limits). */
  problems: string[];
}

/**
 * The kubelet puts the tokens of a container's devices in `NSM_SRIOV_TOKENS_<resource>`
 * (comma-separated). Each URL with `sriovToken=<resource>` claims one: the k-th such URL of a
 * resource the k-th token, so `nsc init` and `nsc run` claim the same ones.
 */
export function claimTokens(urls: readonly NsUrl[], env: NodeJS.ProcessEnv = process.env): TokenClaims {
  const tokens = new Map<number, string>();
  const problems: string[] = [];
  const used = new Map<string, number>();
  urls.forEach((url, i) => {
    const resource = url.labels[SRIOV_TOKEN_LABEL];
    if (resource === undefined) return;
    const have = (env[`${ENV_PREFIX}${resource}`] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    const k = used.get(resource) ?? 0;
    used.set(resource, k + 1);
    if (k < have.length) {
      tokens.set(i, have[k]);
      return;
    }
    const wanted = urls.filter((u) => u.labels[SRIOV_TOKEN_LABEL] === resource).length;
    problems.push(have.length === 0
      ? `${formatNsUrl(url)}: no token of ${resource} in this container's environment (${ENV_PREFIX}${resource} is not set): put "${resource}: ${wanted}" in resources.limits of this container, so the kubelet hands it one`
      : `${formatNsUrl(url)}: ${ENV_PREFIX}${resource} holds ${have.length} token${have.length === 1 ? '' : 's'}, but ${wanted} NS URLs ask for ${resource}: put "${resource}: ${wanted}" in resources.limits of this container`);
  });
  return { tokens, problems };
}
