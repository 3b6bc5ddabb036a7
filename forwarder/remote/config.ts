import { cidrProblem } from '../../proto/validate/fields.ts';
import { ConfigError } from '../../sdk/config/types.ts';
import { NsmError } from '../../sdk/errors.ts';
import type { Logger } from '../../sdk/log.ts';
import { checkTlsFiles } from '../../sdk/grpc/tls.ts';
import type { PeeringOptions } from './peering.ts';
import { probeLinkTypes } from '../tunnels/probe.ts';
import { tunnelOrder, TUNNEL_TYPES, whyNot } from '../tunnels/tunnels.ts';
import { findUnderlay } from '../tunnels/underlay.ts';

export interface PeeringEnv {
  NSM_PEER_LISTEN_ON: string;
  NSM_TLS_CA_FILE: string;
  NSM_TLS_CERT_FILE: string;
  NSM_TLS_KEY_FILE: string;
  NSM_INSECURE: boolean;
  NSM_TUNNEL_IP: string;
  NSM_MECHANISM_PRIORITY: string[];
  NSM_VXLAN_PORT: number;
  NSM_EXTERNAL_DEVICE_CIDRS: string[];
}

/**
 * Peering from the environment: none when NSM_PEER_LISTEN_ON is empty; mutual TLS unless
 * NSM_INSECURE=true; the underlay and the tunnel link types this kernel has, probed now.
 */
export async function peeringFromEnv(env: PeeringEnv, log: Logger): Promise<PeeringOptions | undefined> {
  if (env.NSM_PEER_LISTEN_ON === '') {
    log.info('NSM_PEER_LISTEN_ON is empty: single-node forwarder, endpoints on other nodes cannot be reached');
    return undefined;
  }
  const bad = env.NSM_EXTERNAL_DEVICE_CIDRS.map((c) => cidrProblem(JSON.stringify(c), c)).find((p) => p !== undefined);
  if (bad) throw new ConfigError('NSM_EXTERNAL_DEVICE_CIDRS', bad);
  const files = { caFile: env.NSM_TLS_CA_FILE, certFile: env.NSM_TLS_CERT_FILE, keyFile: env.NSM_TLS_KEY_FILE };
  if (env.NSM_INSECURE) log.warn({ listenOn: env.NSM_PEER_LISTEN_ON }, 'NSM_INSECURE=true: peering with other forwarders is plaintext and unauthenticated');
  else {
    try {
      checkTlsFiles(files);
    } catch (err) {
      throw new NsmError('FAILED_PRECONDITION', `${(err as Error).message}; or set NSM_PEER_LISTEN_ON= (empty) for a single-node forwarder`);
    }
  }
  const underlay = await findUnderlay(env.NSM_TUNNEL_IP);
  const linkTypes = await probeLinkTypes();
  const tunnels = { underlay, vxlanPort: env.NSM_VXLAN_PORT, order: tunnelOrder(env.NSM_MECHANISM_PRIORITY), linkTypes };
  for (const type of TUNNEL_TYPES) {
    for (const payload of ['ETHERNET', 'IP']) {
      const why = whyNot(tunnels, type, payload);
      if (why) log.info({ mechanism: type, payload }, `${type} is not offered for ${payload} payload: ${why}`);
    }
  }
  return { listenOn: env.NSM_PEER_LISTEN_ON, tls: env.NSM_INSECURE ? undefined : files, tunnels, deviceCidrs: env.NSM_EXTERNAL_DEVICE_CIDRS };
}
