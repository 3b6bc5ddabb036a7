import t from 'tap';
import { formatDownwardMap, goQuote, goUnquote, parseDownwardMap } from '../../../sdk/k8s/downward-api.ts';

t.test('values are quoted as Go\'s %q quotes them, which is how the kubelet writes a projected map', async (t) => {
  t.equal(goQuote('kernel://a/nsm-1,kernel://b/nsm-2'), '"kernel://a/nsm-1,kernel://b/nsm-2"');
  t.equal(goQuote('say "hi"\\'), '"say \\"hi\\"\\\\"');
  t.equal(goQuote('a\nb\tc\r\x01\x7f'), '"a\\nb\\tc\\r\\x01\\x7f"');
  t.equal(goQuote('größe ✓'), '"größe ✓"', 'printable Unicode as it is');
  t.equal(formatDownwardMap({ b: '2', a: '{"x":1}' }), 'a="{\\"x\\":1}"\nb="2"', 'keys sorted, one line each, no newline at the end');
});

t.test('every escape Go writes reads back', async (t) => {
  for (const s of ['', 'plain', 'q"uo\\te', 'line\nbreak', '\x07\b\f\v', 'größe ✓ 😀', '{"containers":["nsm-sidecar"]}']) t.equal(goUnquote(goQuote(s)), s, JSON.stringify(s));
  t.equal(goUnquote('"\\u00e9\\U0001F600\\x41\\101\\\'"'), 'é😀AA\'', '\\u, \\U, \\x, octal and \\\'');
  t.equal(goUnquote('"\\xc3\\xa9"'), 'é', '\\x escapes are bytes of UTF-8');
});

t.test('a file that is not key="value" lines names the line and what is wrong', async (t) => {
  t.same(parseDownwardMap('a="1"\nnetworkservicemesh.io="kernel://s/nsm-1"\n\n'), { a: '1', 'networkservicemesh.io': 'kernel://s/nsm-1' });
  t.same(parseDownwardMap(''), {});
  t.same(parseDownwardMap('k="a=b"'), { k: 'a=b' }, 'split at the first =');
  t.throws(() => parseDownwardMap('a="1"\nno equals'), /line 2 is not key="value"/);
  t.throws(() => parseDownwardMap('k=unquoted'), /line 1 \(k\): the value is not a double-quoted string/);
  t.throws(() => parseDownwardMap('k="a"b"'), /line 1 \(k\): an unescaped " at position 2/);
  t.throws(() => parseDownwardMap('k="\\q"'), /unknown escape \\q/);
  t.throws(() => parseDownwardMap('k="\\x4"'), /\\x at position 1 needs 2 hex digits/);
  t.throws(() => parseDownwardMap('k="\\12"'), /an octal escape at position 1 needs 3 digits/);
  t.throws(() => parseDownwardMap('k="end\\"'), /unescaped|lone backslash|double-quoted/);
});
