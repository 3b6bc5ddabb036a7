import t from 'tap';
import { parseNsUrlList } from '../../../proto/api.ts';
import { firstRequest, refreshRequest } from '../../../sidecar/nsc/client.ts';
import { claimTokens } from '../../../sidecar/nsc/sriov-tokens.ts';

const ENV = 'NSM_SRIOV_TOKENS_nsm.example.com/radio';
const urls = (s: string) => parseNsUrlList(s);

t.test('each URL naming a resource claims the next token of it from the environment', async (t) => {
  const list = urls('kernel://radio/nsm-1?sriovToken=nsm.example.com/radio,kernel://plain/nsm-2,kernel://radio/nsm-3?sriovToken=nsm.example.com/radio');
  const claims = claimTokens(list, { [ENV]: 'sriov-a, sriov-b' });
  t.same([...claims.tokens], [[0, 'sriov-a'], [2, 'sriov-b']], 'in URL order; a URL without the label claims none');
  t.same(claims.problems, []);
  t.same(claimTokens(list, { [ENV]: 'sriov-a,sriov-b' }).tokens, claims.tokens, 'the same claims every time (nsc init and nsc run agree)');
});

t.test('a URL without a token to claim says what to put in resources.limits', async (t) => {
  const one = claimTokens(urls('kernel://radio/nsm-1?sriovToken=nsm.example.com/radio'), {});
  t.equal(one.tokens.size, 0);
  t.match(one.problems[0], /^kernel:\/\/radio\/nsm-1\?sriovToken=nsm.example.com%2Fradio: no token of nsm\.example\.com\/radio in this container's environment \(NSM_SRIOV_TOKENS_nsm\.example\.com\/radio is not set\): put "nsm\.example\.com\/radio: 1" in resources\.limits/);
  const two = claimTokens(urls('kernel://radio/nsm-1?sriovToken=nsm.example.com/radio,kernel://radio/nsm-2?sriovToken=nsm.example.com/radio'), { [ENV]: 'sriov-a' });
  t.same([...two.tokens], [[0, 'sriov-a']]);
  t.match(two.problems, [/nsm-2.*: NSM_SRIOV_TOKENS_nsm\.example\.com\/radio holds 1 token, but 2 NS URLs ask for nsm\.example\.com\/radio: put "nsm\.example\.com\/radio: 2"/]);
});

t.test('the token goes on every mechanism the client offers, as tokenID; the label stays a connection label', async (t) => {
  const [kernel, memif] = urls('kernel://radio/nsm-1?sriovToken=nsm.example.com/radio,memif://radio/mem-1?sriovToken=nsm.example.com/radio&fallback=kernel');
  const req = firstRequest(kernel, 'pod-0', 'pod', 'sriov-a');
  t.same(req.mechanismPreferences.map((m) => m.parameters.tokenID), ['sriov-a']);
  t.equal(req.connection?.labels.sriovToken, 'nsm.example.com/radio');
  t.same(firstRequest(memif, 'pod-1', 'pod', 'sriov-b').mechanismPreferences.map((m) => [m.type, m.parameters.tokenID]), [['MEMIF', 'sriov-b'], ['KERNEL', 'sriov-b']]);
  t.same(refreshRequest(req.connection!, kernel, 'sriov-a').mechanismPreferences.map((m) => m.parameters.tokenID), ['sriov-a'], 'refreshes carry it too');
  t.notOk('tokenID' in firstRequest(kernel, 'pod-0', 'pod').mechanismPreferences[0].parameters, 'no token, no parameter');
});
