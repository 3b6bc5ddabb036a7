import t from 'tap';
import { NetworkServiceEndpoint } from '../../../proto/api.ts';
import { newCtx } from '../../../sdk/chain/types.ts';
import { isNsmError } from '../../../sdk/errors.ts';
import { peerKey } from '../../../sdk/grpc/call-ctx.ts';
import { silentLogger } from '../../../sdk/log.ts';
import { Registrations } from '../../../forwarder/authz/registrations.ts';

const from = (netns: string) => peerKey.with(newCtx(silentLogger()), { address: 'unix:', unix: { pid: 1, uid: 0, gid: 0, netns } });
const nse = NetworkServiceEndpoint.fromPartial({ name: 'bridge-3', networkServiceNames: ['l2'], url: 'tcp://10.0.0.3:5001' });

t.test('a name is held while its registration is live, and free once it expired, whoever swept it', async (t) => {
  const r = new Registrations('fwd');
  await r.registerEndpoint(from('4:100'), nse, undefined);
  const live = await r.registerEndpoint(from('4:200'), nse, nse).catch((e: unknown) => e);
  t.ok(isNsmError(live, 'PERMISSION_DENIED'), 'another namespace may not take a live name');
  t.match(String(live), /endpoint bridge-3 is registered by network namespace inode:\/\/4\/100/);
  await r.registerEndpoint(from('4:200'), nse, undefined);
  t.pass('expired (no live registration, though this forwarder never saw it go): a pod recreated with the name registers');
  const back = await r.registerEndpoint(from('4:100'), nse, nse).catch((e: unknown) => e);
  t.ok(isNsmError(back, 'PERMISSION_DENIED'), 'and holds it from then on');
});
