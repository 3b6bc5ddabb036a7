import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import t from 'tap';
import { EXTERNAL_DEVICE_LABEL } from '../../../../proto/external.ts';
import { ConfigError, loadConfig } from '../../../../sdk/config/types.ts';
import { silentLogger } from '../../../../sdk/log.ts';
import { nseEnv } from '../../../../sidecar/nse/env.ts';
import { externalMode } from '../../../../sidecar/nse/external/mode.ts';
import type { EndpointOptions } from '../../../../sidecar/nse/options.ts';
import { tempDir } from '../../../fixtures/netns.ts';

const options = (): EndpointOptions => ({
  name: 'nse', services: ['router'], labels: {}, payload: 'ETHERNET', connectTo: 'unix:///x', listenOn: 'unix:///y',
  connectionLifetimeMs: 60_000, dialTimeoutMs: 1000, log: silentLogger(),
});

/** The ConfigError the mode's start refuses these settings with. */
async function refusal(env: Record<string, string>): Promise<ConfigError> {
  try {
    await externalMode.start(options(), loadConfig(nseEnv, { NSM_MODE: 'external', ...env }));
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

t.test('NSM_MODE=external starts with a device, a hook and a pool, and registers the device label', async (t) => {
  const dir = tempDir(t, 'ext-mode');
  const hook = join(dir, 'hook');
  writeFileSync(hook, '#!/bin/sh\n');
  chmodSync(hook, 0o755);
  const mode = await externalMode.start(options(), loadConfig(nseEnv, { NSM_MODE: 'external', NSM_EXTERNAL_DEVICE_IP: '192.0.2.1', NSM_EXTERNAL_HOOK: hook, NSM_EXTERNAL_MECHANISMS: 'gre, vxlan' }));
  t.same(mode.labels, { [EXTERNAL_DEVICE_LABEL]: 'true' });
  t.same(mode.describe.mechanisms, ['GRE', 'VXLAN'], 'in the given order, case-insensitive');
  t.same(mode.elements.map((e) => e.name), ['assign-addresses', 'tunnel-answer', 'device-hook']);
  t.equal(loadConfig(nseEnv, {}).NSM_EXTERNAL_MECHANISMS[0], 'VXLAN', 'VXLAN by default');
  const registry = new Registry();
  mode.metrics?.(registry);
  t.match(await registry.metrics(), /nsm_nse_address_pool_size 65534/, 'the pool is reported as in p2p mode');
});

t.test('missing or malformed settings stop the endpoint naming the variable', async (t) => {
  const dir = tempDir(t, 'ext-bad');
  const notExec = join(dir, 'plain');
  writeFileSync(notExec, 'echo hi\n');
  t.equal((await refusal({ NSM_EXTERNAL_HOOK: notExec })).variable, 'NSM_EXTERNAL_DEVICE_IP', 'no device address');
  t.equal((await refusal({ NSM_EXTERNAL_DEVICE_IP: '192.0.2.1' })).variable, 'NSM_EXTERNAL_HOOK', 'no hook');
  const plain = await refusal({ NSM_EXTERNAL_DEVICE_IP: '192.0.2.1', NSM_EXTERNAL_HOOK: notExec });
  t.match(plain.message, /^NSM_EXTERNAL_HOOK: ".*plain" is not an executable file \(EACCES\)/);
  const absent = await refusal({ NSM_EXTERNAL_DEVICE_IP: '192.0.2.1', NSM_EXTERNAL_HOOK: join(dir, 'absent') });
  t.match(absent.message, /not an executable file \(ENOENT\)/);
  const malformed: Array<[string, string, RegExp]> = [
    ['NSM_EXTERNAL_DEVICE_IP', 'router1', /expected the device's IPv4 or IPv6 address/],
    ['NSM_EXTERNAL_MECHANISMS', 'VXLAN,IPSEC', /"IPSEC" is not a tunnel type: expected VXLAN or GRE/],
    ['NSM_EXTERNAL_MECHANISMS', ' , ', /name at least one tunnel type/],
    ['NSM_EXTERNAL_HOOK', 'hooks/configure', /expected an absolute path/],
    ['NSM_REQUEST_TIMEOUT', 'soon', /expected a duration/],
    ['NSM_CIDR_PREFIX', '10.0.0.0/33', /is not an IPv4 CIDR/],
  ];
  for (const [name, value, why] of malformed) {
    const err = (() => {
      try {
        loadConfig(nseEnv, { NSM_MODE: 'external', [name]: value });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    t.ok(err instanceof ConfigError && err.variable === name, `${name}=${value} is refused naming ${name}: ${String(err)}`);
    t.match(String((err as Error)?.message), why);
  }
});
