import { createHash, randomUUID } from 'node:crypto';

/**
 * Device ids are tokens as upstream's (`sriov-<uuid>`, 42 characters): random, so only a pod the
 * kubelet handed one to knows it. Each stands for one device of its pool for as long as the
 * device exists: it is kept in the device's alias, which the kernel keeps wherever the device
 * moves, so a restarted forwarder advertises the same ids the kubelet has checkpointed.
 */
export const newToken = () => `sriov-${randomUUID()}`;

export const TOKEN = /^sriov-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The env var the kubelet sets from Allocate: upstream's name, the resource name as it is (`.` and `/` kept). */
export const tokensEnvName = (resource: string) => `NSM_SRIOV_TOKENS_${resource}`;

const ALIAS_PREFIX = 'nsm-pool:';

/** `nsm-pool:<owner>:<device>:<token>`, the owner a short hash of the forwarder's name (so the alias fits in 255 bytes). */
export function poolAlias(owner: string, device: string, token: string): string {
  return `${ALIAS_PREFIX}${ownerTag(owner)}:${device}:${token}`;
}

const ownerTag = (owner: string) => createHash('sha256').update(owner).digest('hex').slice(0, 12);

/** The device and token of a pool alias of `owner`; undefined for any other alias. */
export function parsePoolAlias(owner: string, alias: string | undefined): { device: string; token: string } | undefined {
  if (!alias?.startsWith(ALIAS_PREFIX)) return undefined;
  const [tag, device, token, extra] = alias.slice(ALIAS_PREFIX.length).split(':');
  if (tag !== ownerTag(owner) || !device || !token || extra !== undefined || !TOKEN.test(token)) return undefined;
  return { device, token };
}
