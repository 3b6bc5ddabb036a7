import t from 'tap';
import { kernelMechanism, parseNsUrl } from '../../../proto/api.ts';
import { memifOffer } from '../../../proto/memif.ts';
import { isNsmError } from '../../../sdk/errors.ts';
import { firstRequest } from '../../../sidecar/nsc/client.ts';
import { checkMechanismOptions, clientPreferences, requestLabels } from '../../../sidecar/nsc/preferences.ts';

const NETNS = 'inode://4/100';
const OWNER = { uid: 1000, gid: 2000 };
const prefs = (url: string) => clientPreferences(parseNsUrl(url), NETNS, OWNER);

t.test('kernel:// offers KERNEL with the interface name and namespace', async (t) => {
  t.same(prefs('kernel://svc/nsm-1'), [kernelMechanism({ name: 'nsm-1', inodeURL: NETNS })]);
});

t.test('memif:// offers MEMIF only, naming the uid/gid that may open the socket', async (t) => {
  t.same(prefs('memif://svc/mem-1'), [memifOffer(OWNER)]);
  t.same(prefs('memif://svc/mem-1')[0].parameters, { uid: '1000', gid: '2000' });
});

t.test('memif://...?fallback=kernel offers MEMIF, then KERNEL', async (t) => {
  t.same(prefs('memif://svc/mem-1?fallback=kernel&app=x'), [memifOffer(OWNER), kernelMechanism({ name: 'mem-1', inodeURL: NETNS })]);
});

t.test('fallback is an option of memif URLs, not a label; on kernel URLs it stays a label', async (t) => {
  t.same(requestLabels(parseNsUrl('memif://svc/mem-1?fallback=kernel&app=x')), { app: 'x' });
  t.same(requestLabels(parseNsUrl('kernel://svc/nsm-1?fallback=kernel')), { fallback: 'kernel' });
  t.same(firstRequest(parseNsUrl('memif://svc/mem-1?fallback=kernel&app=x'), 'pod-0', 'pod').connection?.labels, { app: 'x', podName: 'pod' });
});

t.test('an unknown fallback is refused before any request', async (t) => {
  const err = (() => { try { checkMechanismOptions(parseNsUrl('memif://svc/mem-1?fallback=vxlan')); } catch (e) { return e; } })();
  t.ok(isNsmError(err, 'INVALID_ARGUMENT'));
  t.match(String(err), /memif:\/\/svc\/mem-1\?fallback=vxlan: fallback=vxlan is not known; the only fallback is fallback=kernel/);
  checkMechanismOptions(parseNsUrl('memif://svc/mem-1?fallback=kernel'));
  checkMechanismOptions(parseNsUrl('kernel://svc/nsm-1?fallback=anything'));
});

t.test('the nsc process offers its own uid/gid by default', async (t) => {
  const [m] = clientPreferences(parseNsUrl('memif://svc/mem-1'), NETNS);
  t.equal(m.parameters.uid, String(process.getuid!()));
  t.equal(m.parameters.gid, String(process.getgid!()));
});
