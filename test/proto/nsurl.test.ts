import t from 'tap';
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { formatNsUrl, formatNsUrlList, NsUrlError, parseNsUrl, parseNsUrlList, type NsUrl } from '../../proto/nsurl.ts';
import { interfaceNameProblem, labelsProblem, nameProblem } from '../../proto/validate/fields.ts';

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

t.test('valid URLs parse into their parts', async (t) => {
  const table: Array<[string, NsUrl]> = [
    ['kernel://icmp-responder/nsm-1', { mechanism: 'kernel', service: 'icmp-responder', ifname: 'nsm-1', labels: {} }],
    ['memif://vpp-svc/memif0', { mechanism: 'memif', service: 'vpp-svc', ifname: 'memif0', labels: {} }],
    ['KERNEL://svc/eth1', { mechanism: 'kernel', service: 'svc', ifname: 'eth1', labels: {} }],
    ['kernel://svc@my.domain/nsm-1', { mechanism: 'kernel', service: 'svc', domain: 'my.domain', ifname: 'nsm-1', labels: {} }],
    ['kernel://svc/nsm-1?app=firewall&tier=a%26b', { mechanism: 'kernel', service: 'svc', ifname: 'nsm-1', labels: { app: 'firewall', tier: 'a&b' } }],
    ['  kernel://svc/abcdefghijklmno  ', { mechanism: 'kernel', service: 'svc', ifname: 'abcdefghijklmno', labels: {} }],
    ['kernel://svc/nsm-1?empty=', { mechanism: 'kernel', service: 'svc', ifname: 'nsm-1', labels: { empty: '' } }],
  ];
  for (const [input, want] of table) t.same(parseNsUrl(input), want, input);
});

t.test('malformed URLs name the offending part', async (t) => {
  const table: Array<[string, string, RegExp]> = [
    ['svc/nsm-1', 'syntax', /expected <mechanism>:\/\//],
    ['vxlan://svc/nsm-1', 'mechanism', /unknown mechanism "vxlan"; use one of kernel, memif/],
    ['://svc/nsm-1', 'mechanism', /mechanism is empty/],
    ['kernel:///nsm-1', 'service', /service name is empty/],
    ['kernel://sv c/nsm-1', 'service', /service name "sv c" may contain only/],
    ['kernel://-svc/nsm-1', 'service', /must start and end with a letter or digit/],
    ['kernel://svc@/nsm-1', 'domain', /domain is empty/],
    ['kernel://svc@do main/nsm-1', 'domain', /domain "do main"/],
    ['kernel://svc', 'interface', /interface name is missing/],
    ['kernel://svc/', 'interface', /interface name is missing/],
    ['kernel://svc/abcdefghijklmnop', 'interface', /is 16 characters; Linux allows at most 15/],
    ['kernel://svc/a/b', 'interface', /contains "\/"/],
    ['kernel://svc/a:b', 'interface', /contains ":"/],
    ['kernel://svc/..', 'interface', /reserved/],
    ['kernel://svc/nsm-1?app', 'labels', /"app" must be written key=value/],
    ['kernel://svc/nsm-1?=x', 'labels', /must be written key=value/],
    ['kernel://svc/nsm-1?a=1&a=2', 'labels', /"a" is given twice/],
    ['kernel://svc/nsm-1?a=%zz', 'labels', /malformed %-escape/],
  ];
  for (const [input, part, message] of table) {
    const err = catchError(() => parseNsUrl(input));
    t.ok(err instanceof NsUrlError, `${input} throws NsUrlError`);
    t.match(err, { part, message }, input);
    t.match((err as Error).message, JSON.stringify(input.trim()), `${input}: message quotes the URL`);
  }
});

t.test('lists: blanks skipped, duplicate interface names refused', async (t) => {
  t.same(parseNsUrlList('kernel://a/nsm-1, memif://b/nsm-2,').map((u) => u.ifname), ['nsm-1', 'nsm-2']);
  t.same(parseNsUrlList(''), []);
  t.throws(() => parseNsUrlList('kernel://a/nsm-1,kernel://b/nsm-1'), /interface name "nsm-1" is already used by "kernel:\/\/a\/nsm-1"/);
  t.throws(() => parseNsUrlList('kernel://a/nsm-1,kernel://b/waytoolonginterface'), /kernel:\/\/b\/waytoolonginterface/);
});

const nameArb = fc.stringMatching(/^[A-Za-z0-9]([A-Za-z0-9_.-]{0,20}[A-Za-z0-9])?$/);
const ifnameArb = fc.stringMatching(/^[A-Za-z0-9_.-]{1,15}$/).filter((s) => s !== '.' && s !== '..');
const urlArb = fc.record({
  mechanism: fc.constantFrom('kernel' as const, 'memif' as const),
  service: nameArb,
  domain: fc.option(nameArb, { nil: undefined }),
  ifname: ifnameArb,
  // Any label the forwarder's edge takes: keys as Kubernetes writes them, values without control characters.
  labels: fc.dictionary(fc.stringMatching(/^[A-Za-z0-9]([A-Za-z0-9._/-]{0,6}[A-Za-z0-9])?$/), fc.string({ maxLength: 8 }).filter((v) => !/[\u0000-\u001f\u007f]/.test(v)), { maxKeys: 3 }),
}).map((u) => {
  const out: NsUrl = { mechanism: u.mechanism, service: u.service, ifname: u.ifname, labels: { ...u.labels } };
  if (u.domain !== undefined) out.domain = u.domain;
  return out;
});

t.test('property: parse(format(u)) == u and format(parse(s)) is stable', async (t) => {
  fc.assert(fc.property(urlArb, (u) => {
    const s = formatNsUrl(u);
    return isDeepStrictEqual({ ...parseNsUrl(s) }, u) && formatNsUrl(parseNsUrl(s)) === s;
  }), { numRuns: 300 });
  fc.assert(fc.property(fc.uniqueArray(urlArb, { selector: (u) => u.ifname, maxLength: 5 }), (list) => {
    return formatNsUrlList(parseNsUrlList(formatNsUrlList(list))) === formatNsUrlList(list);
  }), { numRuns: 100 });
  t.pass('round trips hold');
});

t.test('property: any string either parses or throws an NsUrlError naming itself', async (t) => {
  fc.assert(fc.property(fc.oneof(fc.string(), urlArb.map(formatNsUrl).map((s) => s.replace(/[a-z]/, ' '))), (s) => {
    try {
      parseNsUrl(s);
      return true;
    } catch (err) {
      return err instanceof NsUrlError && err.message.includes(JSON.stringify(s.trim()));
    }
  }), { numRuns: 500 });
  t.pass('every failure names its URL');
});

t.test('property: what a URL accepts, the forwarder\'s edge accepts (no annotation passes the webhook only to be refused later)', async (t) => {
  const noisy = fc.oneof(fc.string({ maxLength: 30 }), urlArb.map(formatNsUrl), urlArb.map(formatNsUrl).map((s) => s.replace(/nsm|[a-z]/, (m) => `${m}${['#', '"', '%', '\\', "'"][m.length % 5]}`)));
  fc.assert(fc.property(noisy, (s) => {
    let u: NsUrl;
    try {
      u = parseNsUrl(s);
    } catch {
      return true;
    }
    return interfaceNameProblem('name', u.ifname) === undefined && nameProblem('service', u.service) === undefined && labelsProblem('labels', u.labels) === undefined;
  }), { numRuns: 1000, seed: 23 });
  t.pass('every parsed URL names an interface and a service the forwarder takes');
});
