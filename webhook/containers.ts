import type { NsUrl } from '../proto/nsurl.ts';
import type { InjectionConfig } from './injection-config.ts';
import type { JsonObject } from './json-patch.ts';
import { posix } from 'node:path';
import { parseAddress } from '../sdk/grpc/address.ts';
import { ANNOTATIONS_FILE, CLIENT_API_VOLUME, CONNECTIONS_VOLUME, CSI_DRIVER, PODINFO_DIR, PODINFO_VOLUME, SOCKET_DIR, SOCKET_VOLUME } from './keys.ts';
import { dns1123Label, imageBaseName, uniqueName } from './names.ts';
import type { PsaLevel } from './psa.ts';

export interface InjectedParts {
  /** Appended to spec.initContainers in this order: the init container, then the native sidecar if any. */
  initContainers: JsonObject[];
  /** Appended to spec.containers: the classic sidecar, if not native. */
  containers: JsonObject[];
  volumes: JsonObject[];
  /**
   * Mounted into every application container that does not already mount the path: the
   * connections directory, the client API's directory, and for memif services the socket
   * directory the memif sockets are in.
   */
  appMounts: JsonObject[];
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

function env(config: InjectionConfig, services: string, own: JsonObject[]): JsonObject[] {
  return [
    { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
    { name: 'NSM_NETWORK_SERVICES', value: services },
    { name: 'NSM_NAME', value: '$(POD_NAME)' },
    { name: 'NSM_CONNECT_TO', value: config.connectTo },
    { name: 'NSM_CONNECTIONS_DIR', value: config.connectionsDir },
    ...own,
    ...config.envs.map(([name, value]) => ({ name, value })),
  ];
}

/**
 * Upstream's SR-IOV rule: each `sriovToken=<resource>` label claims one unit of that extended
 * resource. It goes in the limits and the requests of the init container (extended resources
 * cannot be overcommitted, so both must say the same), so the kubelet admits the pod with
 * devices and hands that container their tokens.
 */
function sriovResources(urls: readonly NsUrl[]): Record<string, string> {
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

export interface PartNames {
  socketVolume: string;
  connectionsVolume: string;
  podinfoVolume: string;
  clientApiVolume: string;
  init: string;
  sidecar: string;
}

/** The names the injected parts take: the usual ones, made unique against those the pod has. */
export function partNames(input: Pick<PartsInput, 'config' | 'takenContainerNames' | 'takenVolumeNames'>): PartNames {
  const { config } = input;
  return {
    socketVolume: uniqueName(SOCKET_VOLUME, input.takenVolumeNames),
    connectionsVolume: uniqueName(CONNECTIONS_VOLUME, input.takenVolumeNames),
    podinfoVolume: uniqueName(PODINFO_VOLUME, input.takenVolumeNames),
    clientApiVolume: uniqueName(CLIENT_API_VOLUME, input.takenVolumeNames),
    init: uniqueName(initName(config.initImage), input.takenContainerNames),
    sidecar: uniqueName(imageBaseName(config.sidecarImage), input.takenContainerNames),
  };
}

/** The directory of the client API's socket, a volume the sidecar shares with the application containers; '' when there is no client API. */
export function clientApiDir(config: InjectionConfig): string {
  if (config.clientApi === '') return '';
  const a = parseAddress(config.clientApi);
  return a.kind === 'unix' ? posix.dirname(a.path) : '';
}

/**
 * What only the sidecar (nsm nsc run) gets: the pod's annotations, which the kubelet rewrites
 * when they change (NSM_POD_ANNOTATIONS), the annotation it follows, the pod's namespace (for the
 * Events it reports) and the client API's socket.
 */
function sidecarOwn(config: InjectionConfig, names: PartNames): { env: JsonObject[]; mounts: JsonObject[] } {
  const apiDir = clientApiDir(config);
  return {
    env: [
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } } },
      { name: 'NSM_POD_ANNOTATIONS', value: posix.join(PODINFO_DIR, ANNOTATIONS_FILE) },
      { name: 'NSM_ANNOTATION', value: config.annotation },
      { name: 'NSM_CLIENT_API', value: config.clientApi },
      ...(config.sidecarMetricsListenOn ? [{ name: 'NSM_METRICS_LISTEN_ON', value: config.sidecarMetricsListenOn }] : []),
    ],
    mounts: [
      { name: names.podinfoVolume, mountPath: PODINFO_DIR, readOnly: true },
      ...(apiDir ? [{ name: names.clientApiVolume, mountPath: apiDir }] : []),
    ],
  };
}

function buildParts(input: PartsInput, names: PartNames): InjectedParts {
  const { config, services, psa, native } = input;
  const mounts = [
    { name: names.socketVolume, mountPath: SOCKET_DIR, readOnly: true },
    { name: names.connectionsVolume, mountPath: config.connectionsDir },
  ];
  const container = (name: string, image: string, args: string[], extra: { devices?: Record<string, string>; env?: JsonObject[]; mounts?: JsonObject[] } = {}): JsonObject => ({
    name,
    image,
    imagePullPolicy: config.pullPolicy,
    command: ['node', '/app/bin/nsm.ts'],
    args,
    env: env(config, services, extra.env ?? []),
    resources: {
      limits: { ...config.resources.limits, ...extra.devices },
      requests: { ...config.resources.requests, ...extra.devices },
    },
    volumeMounts: [...mounts, ...extra.mounts ?? []].map((m) => ({ ...m })),
    ...(psa === 'restricted' ? { securityContext: structuredClone(RESTRICTED_SECURITY_CONTEXT) } : {}),
  });
  const init = container(names.init, config.initImage, ['nsc', 'init'], { devices: sriovResources(input.urls) });
  const sidecar = container(names.sidecar, config.sidecarImage, ['nsc', 'run'], sidecarOwn(config, names));
  if (native) sidecar.restartPolicy = 'Always';
  const socket =
    psa === 'privileged'
      ? { name: names.socketVolume, hostPath: { path: SOCKET_DIR, type: 'Directory' } }
      : { name: names.socketVolume, csi: { driver: CSI_DRIVER, readOnly: true } };
  return {
    initContainers: native ? [init, sidecar] : [init],
    containers: native ? [] : [sidecar],
    volumes: [
      socket,
      { name: names.connectionsVolume, emptyDir: {} },
      { name: names.podinfoVolume, downwardAPI: { items: [{ path: ANNOTATIONS_FILE, fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.annotations' } }] } },
      ...(clientApiDir(config) ? [{ name: names.clientApiVolume, emptyDir: {} }] : []),
    ],
    appMounts: withClientApi(config, names, [
      { name: names.connectionsVolume, mountPath: config.connectionsDir, readOnly: true },
      ...(input.urls.some((u) => u.mechanism === 'memif') ? [{ name: names.socketVolume, mountPath: SOCKET_DIR, readOnly: true }] : []),
    ]),
  };
}

const isBelow = (path: string, dir: string) => {
  const rel = posix.relative(dir, path);
  return rel !== '' && !rel.startsWith('..');
};

/**
 * An application container's mounts with the client API's directory added, read-only unless
 * another of the mounts lies below it: the container runtime creates that mount point inside
 * the client API's volume when the container starts, and in a read-only volume it cannot (the
 * container would fail to start until the sidecar had made the directory).
 */
function withClientApi(config: InjectionConfig, names: PartNames, mounts: JsonObject[]): JsonObject[] {
  const dir = clientApiDir(config);
  if (!dir) return mounts;
  const nested = mounts.some((m) => isBelow(String(m.mountPath), dir));
  return [...mounts, { name: names.clientApiVolume, mountPath: dir, ...(nested ? {} : { readOnly: true }) }];
}

/** Injected parts with each item already serialised. */
export interface SerializedParts {
  parts: InjectedParts;
  json: { initContainers: string[]; containers: string[]; volumes: string[] };
}

/** The parts for one pod, each item serialised once (the patch is built from these strings). */
export function serializedParts(input: PartsInput): SerializedParts {
  const parts = buildParts(input, partNames(input));
  return {
    parts,
    json: {
      initContainers: parts.initContainers.map((c) => JSON.stringify(c)),
      containers: parts.containers.map((c) => JSON.stringify(c)),
      volumes: parts.volumes.map((v) => JSON.stringify(v)),
    },
  };
}
