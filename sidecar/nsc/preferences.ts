import { formatNsUrl, kernelMechanism, Keys, type Mechanism, type NsUrl } from '../../proto/api.ts';
import { memifOffer, type MemifOwner } from '../../proto/memif.ts';
import { NsmError } from '../../sdk/errors.ts';
import { ownNetnsUrl } from '../../sdk/netns.ts';

/** `memif://svc/if?fallback=kernel`: an option of memif URLs, not a label; offers KERNEL after MEMIF. */
export const FALLBACK_OPTION = 'fallback';

const fallsBackToKernel = (url: NsUrl) => url.mechanism === 'memif' && url.labels[FALLBACK_OPTION] === 'kernel';

export function checkMechanismOptions(url: NsUrl): void {
  const value = url.labels[FALLBACK_OPTION];
  if (url.mechanism === 'memif' && value !== undefined && value !== 'kernel') {
    throw new NsmError('INVALID_ARGUMENT', `${formatNsUrl(url)}: ${FALLBACK_OPTION}=${value} is not known; the only fallback is ${FALLBACK_OPTION}=kernel`);
  }
}

/** The connection labels of a URL: its query without the options. */
export function requestLabels(url: NsUrl): Record<string, string> {
  if (url.mechanism !== 'memif') return url.labels;
  const { [FALLBACK_OPTION]: _option, ...labels } = url.labels;
  return labels;
}

const ownOwner = (): MemifOwner => ({ uid: process.getuid?.(), gid: process.getgid?.() });

/**
 * What the client offers, in its order of preference: KERNEL for kernel://; MEMIF for memif://
 * (naming the uid/gid the pod runs as, who alone may open the socket), then KERNEL with fallback=kernel.
 * A device-pool token the URL claims goes on every one as `tokenID`, as upstream's client puts it.
 */
export function clientPreferences(url: NsUrl, netnsUrl = ownNetnsUrl(), owner = ownOwner(), token?: string): Mechanism[] {
  const kernel = kernelMechanism({ name: url.ifname, inodeURL: netnsUrl });
  const offers = url.mechanism === 'kernel' ? [kernel] : fallsBackToKernel(url) ? [memifOffer(owner), kernel] : [memifOffer(owner)];
  return token === undefined ? offers : offers.map((m) => ({ ...m, parameters: { ...m.parameters, [Keys.tokenID]: token } }));
}
