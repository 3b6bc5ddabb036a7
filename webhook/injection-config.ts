import { posix } from 'node:path';
import type { ConfigOf } from '../sdk/config/types.ts';
import { NsmError } from '../sdk/errors.ts';
import { parseAddress } from '../sdk/grpc/address.ts';
import { PODINFO_DIR, SOCKET_DIR } from './keys.ts';
import type { injectionEnv } from './env.ts';

export type NativeSidecarMode = 'auto' | 'on' | 'off';

/** Everything the pure injection needs to know, already validated. */
export interface InjectionConfig {
  annotation: string;
  initImage: string;
  sidecarImage: string;
  pullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  /** `auto` has already been resolved against the API server version. */
  nativeSidecar: boolean;
  resources: { limits: { cpu: string; memory: string }; requests: { cpu: string; memory: string } };
  connectTo: string;
  connectionsDir: string;
  /** NSM_METRICS_LISTEN_ON of the sidecar (nsc run only); '' = none. */
  sidecarMetricsListenOn: string;
  /** NSM_CLIENT_API of the sidecar: the unix socket applications of the pod request services on; '' = none. */
  clientApi: string;
  envs: ReadonlyArray<readonly [string, string]>;
  labels: Readonly<Record<string, string>>;
}

/** The client API's socket directory is a volume of its own: it cannot be one the other parts mount. */
function checkClientApi(env: ConfigOf<typeof injectionEnv>): void {
  if (env.NSM_SIDECAR_CLIENT_API === '') return;
  const a = parseAddress(env.NSM_SIDECAR_CLIENT_API);
  const dir = a.kind === 'unix' ? posix.dirname(a.path) : '';
  const clash = dir === posix.normalize(env.NSM_CONNECTIONS_DIR) ? 'NSM_CONNECTIONS_DIR' : dir === SOCKET_DIR ? 'the forwarder socket\'s directory' : dir === PODINFO_DIR ? 'where the sidecar reads the pod\'s annotations' : undefined;
  if (clash) throw new NsmError('INVALID_ARGUMENT', `NSM_SIDECAR_CLIENT_API: the socket's directory ${dir} is ${clash}; put the socket in a directory of its own, e.g. unix:///var/run/nsm/nsc.sock`);
}

export function injectionConfigFromEnv(env: ConfigOf<typeof injectionEnv>, nativeSidecar: boolean): InjectionConfig {
  checkClientApi(env);
  return {
    annotation: env.NSM_ANNOTATION,
    initImage: env.NSM_INIT_IMAGE.trim() || env.NSM_SIDECAR_IMAGE.trim(),
    sidecarImage: env.NSM_SIDECAR_IMAGE.trim(),
    pullPolicy: env.NSM_IMAGE_PULL_POLICY,
    nativeSidecar,
    resources: {
      limits: { cpu: env.NSM_SIDECAR_LIMITS_CPU, memory: env.NSM_SIDECAR_LIMITS_MEMORY },
      requests: { cpu: env.NSM_SIDECAR_REQUESTS_CPU, memory: env.NSM_SIDECAR_REQUESTS_MEMORY },
    },
    connectTo: env.NSM_CONNECT_TO,
    connectionsDir: env.NSM_CONNECTIONS_DIR,
    sidecarMetricsListenOn: env.NSM_SIDECAR_METRICS_LISTEN_ON,
    clientApi: env.NSM_SIDECAR_CLIENT_API,
    envs: env.NSM_ENVS,
    labels: env.NSM_LABELS,
  };
}

/** Native sidecars (KEP-753) are on by default from Kubernetes 1.29; unknown versions get classic sidecars. */
export const NATIVE_SIDECAR_MIN_MINOR = 29;

export function resolveNativeSidecar(mode: NativeSidecarMode, serverMinor: number | undefined): boolean {
  if (mode === 'on') return true;
  if (mode === 'off') return false;
  return serverMinor !== undefined && serverMinor >= NATIVE_SIDECAR_MIN_MINOR;
}
