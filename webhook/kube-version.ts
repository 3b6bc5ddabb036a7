import { VersionApi, type KubeConfig } from '@kubernetes/client-node';

/** The API server's minor version (1.<minor>), or undefined when it cannot be learned in time. */
export async function serverMinorVersion(kc: KubeConfig, timeoutMs: number): Promise<number | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs);
  });
  try {
    const info = await Promise.race([kc.makeApiClient(VersionApi).getCode(), timeout]);
    if (info === undefined || info.major !== '1') return undefined;
    const minor = Number.parseInt(info.minor, 10);
    return Number.isFinite(minor) ? minor : undefined;
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}
