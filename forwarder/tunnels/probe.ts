import { randomBytes } from 'node:crypto';
import { VXLAN_DEFAULT_PORT } from '../../proto/mechanisms.ts';
import { ip } from '../../sdk/ip-command.ts';

export type TunnelLinkType = 'vxlan' | 'gre' | 'gretap';
/** Tunnels, and the link types every connection and bridge needs (checked at start by the commands that make them). */
export type LinkType = TunnelLinkType | 'veth' | 'bridge';

export interface LinkTypeSupport {
  available: boolean;
  /** Why not, in the kernel's words, when not available. */
  reason?: string;
}

export type IpRunner = (args: string[]) => Promise<void>;

const realIp: IpRunner = async (args) => {
  await ip(args, { timeoutMs: 5000 });
};

const trial: Record<LinkType, string[]> = {
  veth: ['type', 'veth', 'peer', 'name', 'probe-veth-peer'],
  bridge: ['type', 'bridge'],
  vxlan: ['type', 'vxlan', 'id', '1', 'dstport', String(VXLAN_DEFAULT_PORT)],
  gre: ['type', 'gre', 'remote', '192.0.2.1', 'local', '192.0.2.2', 'key', '1'],
  gretap: ['type', 'gretap', 'remote', '192.0.2.1', 'local', '192.0.2.2', 'key', '1'],
};

/**
 * Finds which tunnel link types this kernel can create, by creating each one in a throwaway
 * network namespace (never in the host's). The namespace is removed whatever happens.
 */
export async function probeLinkTypes<T extends LinkType = TunnelLinkType>(types: readonly T[] = ['vxlan', 'gre', 'gretap'] as T[], ip: IpRunner = realIp): Promise<Record<T, LinkTypeSupport>> {
  const ns = `nsm-probe-${process.pid}-${randomBytes(3).toString('hex')}`;
  const result = {} as Record<T, LinkTypeSupport>;
  await ip(['netns', 'add', ns]);
  try {
    for (const type of types) {
      try {
        await ip(['-n', ns, 'link', 'add', `probe-${type}`, ...trial[type]]);
        result[type] = { available: true };
      } catch (err) {
        const stderr = (err as { stderr?: string }).stderr?.trim();
        result[type] = { available: false, reason: stderr || (err as Error).message };
      }
    }
  } finally {
    await ip(['netns', 'del', ns]).catch(() => {});
  }
  return result;
}
