/** Pod and namespace keys the webhook reads or writes, besides the configurable services annotation. */
export const INJECT_LABEL = 'networkservicemesh.io/inject';
export const OPT_OUT_ANNOTATION = 'networkservicemesh.io/inject';
export const NATIVE_SIDECAR_ANNOTATION = 'networkservicemesh.io/native-sidecar';
export const STATUS_ANNOTATION = 'networkservicemesh.io/status';
export const PSA_ENFORCE_LABEL = 'pod-security.kubernetes.io/enforce';

export const SOCKET_VOLUME = 'nsm-socket';
export const CONNECTIONS_VOLUME = 'nsm-connections';
export const PODINFO_VOLUME = 'nsm-podinfo';
export const CLIENT_API_VOLUME = 'nsm-client-api';
/** Where the sidecar reads the pod's own annotations (a downward API volume). */
export const PODINFO_DIR = '/etc/nsm/podinfo';
export const ANNOTATIONS_FILE = 'annotations';
export const SOCKET_DIR = '/var/lib/networkservicemesh';
export const CSI_DRIVER = 'csi.networkservicemesh.io';
