/** Pod and namespace keys the webhook reads or writes, besides the configurable services annotation. */
export const INJECT_LABEL = 'networkservicemesh.io/inject';
export const OPT_OUT_ANNOTATION = 'networkservicemesh.io/inject';
export const NATIVE_SIDECAR_ANNOTATION = 'networkservicemesh.io/native-sidecar';
export const STATUS_ANNOTATION = 'networkservicemesh.io/status';
export const PSA_ENFORCE_LABEL = 'pod-security.kubernetes.io/enforce';

export const SOCKET_VOLUME = 'nsm-socket';
export const CONNECTIONS_VOLUME = 'nsm-connections';
export const SOCKET_DIR = '/var/lib/networkservicemesh';
export const CSI_DRIVER = 'csi.networkservicemesh.io';
