import fastJsonPatch from 'fast-json-patch';

/** What the sandbox needs from injection. */
export interface PatchOp {
  op: 'add' | 'replace' | 'remove';
  path: string;
  value?: unknown;
}

const ANNOTATION = 'networkservicemesh.io';
const SOCKET_DIR = '/var/lib/networkservicemesh';

type Json = Record<string, any>;

/**
 * The one place the sandbox mutates a pod. It applies the injection contract minimally (init
 * container `nsm nsc init`, sidecar `nsm nsc run`, env POD_NAME / NSM_NETWORK_SERVICES / NSM_NAME /
 * NSM_CONNECT_TO, the nsm-socket hostPath volume) and is replaced by the webhook's pure injection
 * function, which returns the same kind of JSON patch.
 */
export function injectionPatch(pod: Json): PatchOp[] {
  const services = pod.metadata?.annotations?.[ANNOTATION];
  if (typeof services !== 'string' || services.trim() === '') return [];
  const env = [
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'NSM_NETWORK_SERVICES', value: services },
    { name: 'NSM_NAME', value: '$(POD_NAME)' },
    { name: 'NSM_CONNECT_TO', value: `unix://${SOCKET_DIR}/nsm.io.sock` },
  ];
  const mounts = [{ name: 'nsm-socket', mountPath: SOCKET_DIR, readOnly: true }];
  const container = (name: string, command: string[]) => ({ name, image: 'ghcr.io/nsm-project/nsm-sidecar:0.1.0', command, env, volumeMounts: mounts });
  const ops: PatchOp[] = [];
  const append = (path: string, existing: unknown, value: unknown) => {
    if (Array.isArray(existing)) ops.push({ op: 'add', path: `${path}/-`, value });
    else ops.push({ op: 'add', path, value: [value] });
  };
  append('/spec/initContainers', pod.spec?.initContainers, container('nsm-init', ['nsm', 'nsc', 'init']));
  append('/spec/containers', pod.spec?.containers, container('nsm', ['nsm', 'nsc', 'run']));
  append('/spec/volumes', pod.spec?.volumes, { name: 'nsm-socket', hostPath: { path: SOCKET_DIR, type: 'DirectoryOrCreate' } });
  return ops;
}

export function injectPod(pod: Json): Json {
  const copy = structuredClone(pod);
  return fastJsonPatch.applyPatch(copy, injectionPatch(copy) as fastJsonPatch.Operation[], true, true).newDocument as Json;
}
