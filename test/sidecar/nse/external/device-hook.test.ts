import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { Connection, vxlanMechanism } from '../../../../proto/api.ts';
import { begin, chain, metadata, newCtx } from '../../../../sdk/chain/index.ts';
import { silentLogger } from '../../../../sdk/log.ts';
import { deviceHook } from '../../../../sidecar/nse/external/device-hook.ts';
import { Hook } from '../../../../sidecar/nse/external/hook.ts';
import { tempDir, waitFor } from '../../../fixtures/netns.ts';

const skip = process.platform !== 'linux' ? 'the hook runs with /bin/sh' : false;

/** A hook that logs `<action> <vni>` per call, and fails apply once `failing()` was called. */
function recordingHook(t: Parameters<typeof tempDir>[0]) {
  const dir = tempDir(t, 'device-hook');
  const log = join(dir, 'log');
  const path = join(dir, 'hook');
  writeFileSync(path, `#!/bin/sh\nvni=$(sed -n 's/.*"vni": "\\([0-9]*\\)".*/\\1/p')\necho "$1 $vni" >> '${log}'\nif [ "$1" = apply ] && [ -e '${dir}/fail' ]; then echo "router1 said no" >&2; exit 1; fi\n`);
  chmodSync(path, 0o755);
  return { path, calls: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean) : []), failing: () => writeFileSync(join(dir, 'fail'), '') };
}

const conn = (vni: number, expires = new Date()) => Connection.fromPartial({
  id: 'c-1', networkService: 'router',
  mechanism: vxlanMechanism({ srcIp: '10.0.0.1', dstIp: '192.0.2.1', dstPort: 4789, vni }),
  context: { MTU: 1450, extraContext: { seen: String(expires.getTime()) } },
  path: { index: 0, pathSegments: [{ name: 'nse', id: 'c-1', expires }] },
});

t.test('apply once per set of parameters; delete at Close', { skip }, async (t) => {
  const hook = recordingHook(t);
  const served = chain([begin(), metadata(), deviceHook(new Hook(hook.path, 5000, silentLogger()))], { trace: false });
  const ctx = newCtx(silentLogger());
  await served.request(ctx, { connection: conn(7), mechanismPreferences: [] });
  await served.request(ctx, { connection: conn(7, new Date(Date.now() + 1000)), mechanismPreferences: [] });
  t.same(hook.calls(), ['apply 7'], 'a refresh with the same parameters (a new expiry, other extra context) applies nothing');
  await served.request(ctx, { connection: conn(8), mechanismPreferences: [] });
  t.same(hook.calls(), ['apply 7', 'apply 8'], 'changed parameters apply again');
  await served.close(ctx, conn(8));
  t.same(hook.calls(), ['apply 7', 'apply 8', 'delete 8'], 'Close deletes');
});

t.test('a failed apply fails the Request quoting the hook, and the device is cleaned with delete', { skip }, async (t) => {
  const hook = recordingHook(t);
  hook.failing();
  const served = chain([begin(), metadata(), deviceHook(new Hook(hook.path, 5000, silentLogger()))], { trace: false });
  const ctx = newCtx(silentLogger());
  await t.rejects(served.request(ctx, { connection: conn(9), mechanismPreferences: [] }), /hook .* apply exited with 1: router1 said no/);
  await waitFor('the delete after the failed apply', () => hook.calls().length === 2, 5000);
  t.same(hook.calls(), ['apply 9', 'delete 9']);
});
