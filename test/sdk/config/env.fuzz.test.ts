import fc from 'fast-check';
import t from 'tap';
import { commands } from '../../../bin/cli.ts';
import { ConfigError, loadConfig, type Schema } from '../../../sdk/config/types.ts';

const edge = fc.constantFrom('', ' ', '0', '-1', '1e3', 'true', 'off', '15s', '1m30s', 'ms', 'unix://', 'unix:///x.sock', 'tcp://:0', ':99999', 'a=b,a=c', '=x', '\u0000', 'x'.repeat(300));

t.test('fuzz: every variable of every command either parses or stops with a ConfigError naming it', async (t) => {
  for (const [name, load] of commands) {
    const schema: Schema = (await load()).default.env;
    const names = Object.keys(schema);
    t.doesNotThrow(() => loadConfig(schema, {}), `nsm ${name}: every default is valid`);
    const env = fc.dictionary(fc.constantFrom(...names), fc.oneof(edge, fc.string({ maxLength: 40 })), { maxKeys: names.length });
    fc.assert(fc.property(env, (e) => {
      try {
        loadConfig(schema, e);
        return true;
      } catch (err) {
        return err instanceof ConfigError && names.includes(err.variable) && err.message.startsWith(`${err.variable}: `) && err.variable in e;
      }
    }), { numRuns: 300, seed: 23 });
  }
  t.pass('no other error, and the variable named is one that was set');
});
