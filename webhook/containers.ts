import type { NsUrl } from '../proto/nsurl.ts';
import type { InjectionConfig } from './injection-config.ts';
import type { JsonObject } from './json-patch.ts';
import { CONNECTIONS_VOLUME, CSI_DRIVER, SOCKET_DIR, SOCKET_VOLUME } from './keys.ts';
import { dns1123Label, imageBaseName, uniqueName } from './names.ts';
import type { PsaLevel } from './psa.ts';

export interface InjectedParts {
  /** Appended to spec.initContainers in this order: the init container, then the native sidecar if any. */
  initContainers: JsonObject[];
  /** Appended to spec.containers: the classic sidecar, if not native. */
  containers: JsonObject[];
  volumes: JsonObject[];
  /** Mounted into every application container. */
  appMount: JsonObject;
}

export interface PartsInput {
  config: InjectionConfig;
  services: string;
  urls: readonly NsUrl[];
  psa: PsaLevel;
  native: boolean;
  takenContainerNames: Set<string>;
  takenVolumeNames: Set<string>;
}

const RESTRICTED_SECURITY_CONTEXT = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  runAsNonRoot: true,
  seccompProfile: { type: 'RuntimeDefault' },
};

function env(config: InjectionConfig, services: string): JsonObject[] {
  return [
    { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
    { name: 'NSM_NETWORK_SERVICES', value: services },
    { name: 'NSM_NAME', value: '$(POD_NAME)' },
    { name: 'NSM_CONNECT_TO', value: config.connectTo },
    { name: 'NSM_CONNECTIONS_DIR', value: config.connectionsDir },
    ...config.envs.map(([name, value]) => ({ name, value })),
  ];
}

/** Upstream's SR-IOV rule: each `sriovToken=<resource>` label claims one unit of that extended resource. */
function sriovLimits(urls: readonly NsUrl[]): Record<string, string> {
  const counts = new Map<string, number>();
  for (const u of urls) {
    const token = u.labels.sriovToken;
    if (token) counts.set(token, (counts.get(token) ?? 0) + 1);
  }
  return Object.fromEntries([...counts].map(([k, n]) => [k, String(n)]));
}

function initName(image: string): string {
  const base = dns1123Label(imageBaseName(image));
  return base.endsWith('-init') ? base : `${base}-init`;
}

export function injectedParts(input: PartsInput): InjectedParts {
  const { config, services, psa, native } = input;
  const socketVolume = uniqueName(SOCKET_VOLUME, input.takenVolumeNames);
  const connectionsVolume = uniqueName(CONNECTIONS_VOLUME, input.takenVolumeNames);
  const mounts = [
    { name: socketVolume, mountPath: SOCKET_DIR, readOnly: true },
    { name: connectionsVolume, mountPath: config.connectionsDir },
  ];
  const container = (name: string, image: string, args: string[], extraLimits: Record<string, string> = {}): JsonObject => ({
    name,
    image,
    imagePullPolicy: config.pullPolicy,
    command: ['node', '/app/bin/nsm.ts'],
    args,
    env: env(config, services),
    resources: {
      limits: { ...config.resources.limits, ...extraLimits },
      requests: { ...config.resources.requests },
    },
    volumeMounts: mounts.map((m) => ({ ...m })),
    ...(psa === 'restricted' ? { securityContext: structuredClone(RESTRICTED_SECURITY_CONTEXT) } : {}),
  });
  const init = container(uniqueName(initName(config.initImage), input.takenContainerNames), config.initImage, ['nsc', 'init'], sriovLimits(input.urls));
  const sidecar = container(uniqueName(imageBaseName(config.sidecarImage), input.takenContainerNames), config.sidecarImage, ['nsc', 'run']);
  if (native) sidecar.restartPolicy = 'Always';
  const socket =
    psa === 'privileged'
      ? { name: socketVolume, hostPath: { path: SOCKET_DIR, type: 'Directory' } }
      : { name: socketVolume, csi: { driver: CSI_DRIVER, readOnly: true } };
  return {
    initContainers: native ? [init, sidecar] : [init],
    containers: native ? [] : [sidecar],
    volumes: [socket, { name: connectionsVolume, emptyDir: {} }],
    appMount: { name: connectionsVolume, mountPath: config.connectionsDir, readOnly: true },
  };
}
