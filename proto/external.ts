import type { NetworkServiceEndpoint } from './api.ts';

/**
 * The label an endpoint puts on each of its services when it stands for a device outside the
 * cluster (`nsm nse` with NSM_MODE=external): it answers with a tunnel whose far end is the
 * device. Forwarders read it to offer such an endpoint tunnels instead of a veth pair.
 */
export const EXTERNAL_DEVICE_LABEL = 'networkservicemesh.io/external-device';

export function standsForDevice(nse: NetworkServiceEndpoint, service: string): boolean {
  return nse.networkServiceLabels[service]?.labels[EXTERNAL_DEVICE_LABEL] === 'true';
}
