import { Payload } from '../../../proto/api.ts';
import { NsmError } from '../../../sdk/errors.ts';
import type { NseConfig } from '../modes.ts';
import { SubnetPool } from './subnet-pool.ts';

export interface BridgeSettings {
  bridge: string;
  pool: SubnetPool;
  /** Empty: a bridge of its own. */
  domain: string;
}

/** The bridge mode's settings, checked together; a bad one stops the endpoint naming the variable. */
export function bridgeSettings(config: NseConfig): BridgeSettings {
  if (config.NSM_PAYLOAD === Payload.IP) {
    throw new NsmError('INVALID_ARGUMENT', 'NSM_PAYLOAD=IP: a bridge endpoint (NSM_MODE=bridge) carries Ethernet frames between its clients; set NSM_PAYLOAD=ETHERNET, or NSM_MODE=p2p for IP payload');
  }
  let pool: SubnetPool;
  try {
    pool = new SubnetPool(config.NSM_CIDR_PREFIX, config.NSM_IP_POOL);
  } catch (err) {
    throw new NsmError('INVALID_ARGUMENT', (err as Error).message);
  }
  return { bridge: config.NSM_BRIDGE_NAME, pool, domain: config.NSM_BRIDGE_DOMAIN };
}
