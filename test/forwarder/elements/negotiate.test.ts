import t from 'tap';
import { kernelMechanism, memifMechanism, vxlanMechanism } from '../../../proto/api.ts';
import { isNsmError } from '../../../sdk/errors.ts';
import { negotiate } from '../../../sdk/negotiate.ts';
import { FORWARDER_SUPPORTS } from '../../../forwarder/elements/negotiate.ts';

t.test('the client order decides among supported mechanisms', async (t) => {
  const kernel = kernelMechanism({ name: 'nsm-1' });
  const memif = memifMechanism();
  t.equal(negotiate(undefined, [memif, kernel], FORWARDER_SUPPORTS), memif);
  t.equal(negotiate(undefined, [kernel, memif], FORWARDER_SUPPORTS), kernel);
  t.equal(negotiate(undefined, [vxlanMechanism(), kernel], FORWARDER_SUPPORTS), kernel, 'unsupported ones are skipped');
});

t.test('nothing in common names what was offered and what is supported', async (t) => {
  const err = (() => { try { negotiate(undefined, [vxlanMechanism()], FORWARDER_SUPPORTS); } catch (e) { return e; } })();
  t.ok(isNsmError(err, 'INVALID_ARGUMENT'));
  t.match((err as Error).message, /client offered VXLAN\/REMOTE; this forwarder supports KERNEL\/LOCAL, MEMIF\/LOCAL/);
  t.throws(() => negotiate(undefined, [], FORWARDER_SUPPORTS), /offered none/);
});

t.test('a refresh keeps the chosen mechanism, which must still be supported', async (t) => {
  const current = kernelMechanism({ name: 'nsm-1' });
  t.equal(negotiate(current, [], FORWARDER_SUPPORTS), current);
  t.throws(() => negotiate(vxlanMechanism(), [kernelMechanism()], FORWARDER_SUPPORTS), /uses mechanism VXLAN\/REMOTE/);
});
