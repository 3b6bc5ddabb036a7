const MAX_LABEL = 63;

/** The repository's last path segment, without registry, tag or digest: `ghcr.io:5000/a/nsc:v1@sha256:..` → `nsc`. */
export function imageBaseName(image: string): string {
  const noDigest = image.split('@')[0];
  const last = noDigest.slice(noDigest.lastIndexOf('/') + 1);
  const colon = last.indexOf(':');
  return colon < 0 ? last : last.slice(0, colon);
}

/** A valid DNS-1123 label (lower case alphanumerics and '-', 1–63 characters) made from anything. */
export function dns1123Label(raw: string, fallback = 'nsm'): string {
  const cleaned = raw.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+/, '').slice(0, MAX_LABEL).replace(/-+$/, '');
  return cleaned === '' ? fallback : cleaned;
}

/** `base`, or `base-2`, `base-3`, ... whichever is not taken yet; always a DNS-1123 label. Records the pick. */
export function uniqueName(base: string, taken: Set<string>): string {
  let name = dns1123Label(base);
  for (let i = 2; taken.has(name); i++) {
    const suffix = `-${i}`;
    name = `${dns1123Label(base).slice(0, MAX_LABEL - suffix.length).replace(/-+$/, '')}${suffix}`;
  }
  taken.add(name);
  return name;
}
