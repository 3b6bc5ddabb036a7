// Upstream NSM's well-known images, and the nsm command that does the same job. A container with
// one of these images runs as that nsm command with the container's own env (upstream's variable
// names are nsm's), so upstream's example folders run unchanged. Later endpoint modes add rows.

export interface UpstreamImage {
  /** The image's last path segment, without tag or digest. */
  name: string;
  args: readonly string[];
}

export const UPSTREAM_IMAGES: readonly UpstreamImage[] = [
  { name: 'cmd-nse-icmp-responder', args: ['nse'] },
  { name: 'cmd-nsc', args: ['nsc', 'run'] },
  { name: 'cmd-nsc-init', args: ['nsc', 'init'] },
];

/** `ghcr.io/networkservicemesh/ci/cmd-nsc:v1.14.0` → `cmd-nsc`. */
export function imageName(image: string): string {
  const path = image.split('@')[0] ?? '';
  const last = path.slice(path.lastIndexOf('/') + 1);
  return last.split(':')[0] ?? '';
}

export function upstreamImage(image: unknown): UpstreamImage | undefined {
  if (typeof image !== 'string') return undefined;
  const name = imageName(image);
  return UPSTREAM_IMAGES.find((u) => u.name === name);
}
