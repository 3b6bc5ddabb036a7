import t from 'tap';
import { describeSchema, loadConfig } from '../../../sdk/config/types.ts';
import { address, bool, duration, int, labels, list, logLevel, oneOf, parseDuration, required, str } from '../../../sdk/config/vars.ts';

const schema = {
  NSM_NAME: str('nsc', 'name'),
  NSM_REQUEST_TIMEOUT: duration('15s', 'timeout'),
  NSM_PORT: int(4789, 'port', 1, 65535),
  NSM_INSECURE: bool(false, 'plaintext'),
  NSM_PAYLOAD: oneOf('ETHERNET', ['ETHERNET', 'IP'], 'payload'),
  NSM_SERVICE_NAMES: list('', 'services'),
  NSM_LABELS: labels('', 'labels'),
  NSM_CONNECT_TO: address('unix:///var/lib/networkservicemesh/nsm.io.sock', 'forwarder'),
  NSM_LOG_LEVEL: logLevel(),
};

t.test('defaults are parsed like values', async (t) => {
  t.same(loadConfig(schema, {}), {
    NSM_NAME: 'nsc', NSM_REQUEST_TIMEOUT: 15000, NSM_PORT: 4789, NSM_INSECURE: false, NSM_PAYLOAD: 'ETHERNET',
    NSM_SERVICE_NAMES: [], NSM_LABELS: {}, NSM_CONNECT_TO: 'unix:///var/lib/networkservicemesh/nsm.io.sock', NSM_LOG_LEVEL: 'info',
  });
});

t.test('values from the environment', async (t) => {
  const c = loadConfig(schema, {
    NSM_REQUEST_TIMEOUT: '1m30s', NSM_PORT: '8472', NSM_INSECURE: 'TRUE', NSM_PAYLOAD: 'ip', NSM_SERVICE_NAMES: 'a, b,,c',
    NSM_LABELS: 'app=x,tier:db,expr=a=b', NSM_CONNECT_TO: 'tcp://:5001', NSM_LOG_LEVEL: 'DEBUG',
  });
  t.equal(c.NSM_REQUEST_TIMEOUT, 90000);
  t.equal(c.NSM_PORT, 8472);
  t.equal(c.NSM_INSECURE, true);
  t.equal(c.NSM_PAYLOAD, 'IP');
  t.same(c.NSM_SERVICE_NAMES, ['a', 'b', 'c']);
  t.same(c.NSM_LABELS, { app: 'x', tier: 'db', expr: 'a=b' });
  t.equal(c.NSM_LOG_LEVEL, 'debug');
});

t.test('a bad value names the variable and says what is expected', async (t) => {
  const table: Array<[Record<string, string>, RegExp]> = [
    [{ NSM_REQUEST_TIMEOUT: '15' }, /^NSM_REQUEST_TIMEOUT: "15" is not valid: expected a duration such as 750ms/],
    [{ NSM_PORT: '70000' }, /^NSM_PORT: "70000" is not valid: expected a number from 1 to 65535/],
    [{ NSM_PORT: 'x' }, /^NSM_PORT: .*expected a whole number/],
    [{ NSM_INSECURE: 'maybe' }, /^NSM_INSECURE: .*expected true or false/],
    [{ NSM_PAYLOAD: 'L2' }, /^NSM_PAYLOAD: .*expected one of ETHERNET, IP/],
    [{ NSM_LABELS: 'novalue' }, /^NSM_LABELS: .*"novalue" must be written key=value/],
    [{ NSM_LABELS: 'a=1,a=2' }, /^NSM_LABELS: .*"a" is given twice/],
    [{ NSM_CONNECT_TO: 'somewhere' }, /^NSM_CONNECT_TO: .*is not an address/],
    [{ NSM_LOG_LEVEL: 'loud' }, /^NSM_LOG_LEVEL: .*expected one of trace, debug/],
  ];
  for (const [env, message] of table) t.throws(() => loadConfig(schema, env), { code: 'INVALID_ARGUMENT', variable: Object.keys(env)[0], message }, JSON.stringify(env));
  t.throws(() => loadConfig({ NSM_NAME: required('name') }, {}), /NSM_NAME: default "" is not valid: must be set/);
});

t.test('durations', async (t) => {
  for (const [s, ms] of [['750ms', 750], ['15s', 15000], ['5m', 300000], ['1h', 3600000], ['1.5s', 1500], ['0', 0], ['1m30s', 90000]] as const) t.equal(parseDuration(s), ms, s);
  for (const s of ['', '15', 's', '1d', '-1s', '1s junk']) t.throws(() => parseDuration(s), s);
});

t.test('help lists every variable with its default and meaning', async (t) => {
  const help = describeSchema(schema);
  for (const [name, v] of Object.entries(schema)) {
    t.match(help, new RegExp(`${name}\\s+${v.default === '' ? '\\(none\\)' : v.default.replace(/[/.]/g, '\\$&')}\\s+${v.description}`));
  }
});
