import { accessSync, constants, statSync } from 'node:fs';
import { EXTERNAL_DEVICE_LABEL } from '../../../proto/external.ts';
import { ConfigError } from '../../../sdk/config/types.ts';
import type { EndpointMode } from '../modes.ts';
import { assignAddresses } from '../p2p/assign-addresses.ts';
import { poolMetrics } from '../pool-metrics.ts';
import { PointToPointPool } from '../p2p/point-to-point-pool.ts';
import { deviceHook } from './device-hook.ts';
import { Hook } from './hook.ts';
import { TunnelIds } from './tunnel-ids.ts';
import { tunnelAnswer, type Device } from './tunnel-answer.ts';

/** external: each connection gets a pair of addresses and a tunnel to the device, which the hook then configures. */
export function externalElements(pool: PointToPointPool, device: Device, hook: Hook, ids = new TunnelIds()) {
  return [assignAddresses(pool), tunnelAnswer(device, ids), deviceHook(hook)];
}

function executable(path: string): void {
  try {
    if (!statSync(path).isFile()) throw new Error('not a file');
    accessSync(path, constants.X_OK);
  } catch (err) {
    throw new ConfigError('NSM_EXTERNAL_HOOK', `${JSON.stringify(path)} is not an executable file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): name the program that configures the device`);
  }
}

export const externalMode: EndpointMode = {
  async start(o, config) {
    if (config.NSM_EXTERNAL_DEVICE_IP === '') throw new ConfigError('NSM_EXTERNAL_DEVICE_IP', 'must be set with NSM_MODE=external: the device\'s tunnel address on the underlay');
    if (config.NSM_EXTERNAL_HOOK === '') throw new ConfigError('NSM_EXTERNAL_HOOK', 'must be set with NSM_MODE=external: the absolute path of the program that configures the device');
    executable(config.NSM_EXTERNAL_HOOK);
    const pool = new PointToPointPool(config.NSM_CIDR_PREFIX);
    const device: Device = { ip: config.NSM_EXTERNAL_DEVICE_IP, mechanisms: config.NSM_EXTERNAL_MECHANISMS };
    const hook = new Hook(config.NSM_EXTERNAL_HOOK, config.NSM_REQUEST_TIMEOUT, o.log);
    return {
      elements: externalElements(pool, device, hook),
      labels: { [EXTERNAL_DEVICE_LABEL]: 'true' },
      describe: { pool: pool.cidr, device: device.ip, mechanisms: device.mechanisms, hook: hook.path },
      metrics: (registry) => { poolMetrics(registry, pool); },
    };
  },
};
