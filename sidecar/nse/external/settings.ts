import { isIP } from 'node:net';
import { duration, list, str } from '../../../sdk/config/index.ts';
import type { Var } from '../../../sdk/config/types.ts';
import { DEVICE_TUNNEL_TYPES, type DeviceTunnelType } from './tunnel-answer.ts';

const deviceIpCheck = (s: string) => {
  if (s !== '' && isIP(s) === 0) throw new Error('expected the device\'s IPv4 or IPv6 address, such as 192.0.2.1');
};

const hookPathCheck = (s: string) => {
  if (s !== '' && !s.startsWith('/')) throw new Error('expected an absolute path such as /etc/nsm/hook/configure-device');
};

const tunnelTypes = list('VXLAN', 'external: tunnel types the device terminates, in order of preference (VXLAN; GRE where the client\'s kernel has it)');

const deviceMechanisms: Var<DeviceTunnelType[]> = {
  ...tunnelTypes,
  parse(raw) {
    const types = tunnelTypes.parse(raw).map((s) => s.toUpperCase());
    const bad = types.find((s) => !(DEVICE_TUNNEL_TYPES as readonly string[]).includes(s));
    if (bad !== undefined) throw new Error(`${JSON.stringify(bad)} is not a tunnel type: expected ${DEVICE_TUNNEL_TYPES.join(' or ')}, comma-separated`);
    if (types.length === 0) throw new Error(`name at least one tunnel type (${DEVICE_TUNNEL_TYPES.join(', ')})`);
    return [...new Set(types)] as DeviceTunnelType[];
  },
};

/** The settings of NSM_MODE=external; their presence is checked when the mode starts. */
export const externalEnv = {
  NSM_EXTERNAL_DEVICE_IP: str('', 'external: the device\'s tunnel address on the underlay (required in this mode)', deviceIpCheck),
  NSM_EXTERNAL_MECHANISMS: deviceMechanisms,
  NSM_EXTERNAL_HOOK: str('', 'external: absolute path of the executable that configures the device, run as HOOK apply|delete with the connection as JSON on stdin (required in this mode)', hookPathCheck),
  NSM_REQUEST_TIMEOUT: duration('10s', 'external: how long one run of the hook may take before it is killed and the Request fails (keep it below the forwarder\'s NSM_REQUEST_TIMEOUT)'),
};
