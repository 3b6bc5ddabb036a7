import t from 'tap';
import { inPrefix } from '../../sdk/ip.ts';

t.test('inPrefix', async (t) => {
  t.ok(inPrefix('10.0.0.0/24', '10.0.0.9'));
  t.notOk(inPrefix('10.0.0.0/24', '10.0.1.9'));
  t.ok(inPrefix('0.0.0.0/0', '8.8.8.8'));
  t.notOk(inPrefix('0.0.0.0/0', 'fd00::1'), 'families never mix');
});

t.test('inPrefix, IPv6: prefixes, shorthand, IPv4 tails and zones', async (t) => {
  t.ok(inPrefix('fd00::/64', 'fd00::5'));
  t.ok(inPrefix('fd00:0:0:0::/64', 'fd00:0000:0:0:abcd::1'));
  t.notOk(inPrefix('fd00:0:0:1::/64', 'fd00::1'));
  t.ok(inPrefix('fd00::1/128', 'fd00::1'));
  t.notOk(inPrefix('fd00::1/128', 'fd00::2'));
  t.ok(inPrefix('::/0', '2001:db8::1'));
  t.ok(inPrefix('::ffff:10.0.0.0/120', '::ffff:10.0.0.7'));
  t.notOk(inPrefix('::ffff:10.0.0.0/120', '::ffff:10.0.1.7'));
  t.ok(inPrefix('fe80::/64', 'fe80::1%eth0'));
  t.notOk(inPrefix('fd00::/64', 'fd00:::1'), 'a malformed address is compared as text');
});
