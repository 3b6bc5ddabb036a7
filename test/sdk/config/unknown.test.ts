import t from 'tap';
import { runCli } from '../../../bin/cli.ts';
import { str } from '../../../sdk/config/vars.ts';
import { closestSetting, unknownSettingWarnings } from '../../../sdk/config/unknown.ts';

const schema = { NSM_CIDR_PREFIX: str('', ''), NSM_NAME: str('', ''), NSM_SERVICE_NAMES: str('', '') };

t.test('a mistyped variable is named with the setting it most likely meant', async (t) => {
  t.same(unknownSettingWarnings('nse', schema, { NSM_CIDR_PREFX: '10.0.0.0/24', NSM_NAME: 'a', PATH: '/bin' }), [
    'NSM_CIDR_PREFX is not a setting of nsm nse; did you mean NSM_CIDR_PREFIX?',
  ]);
  t.same(unknownSettingWarnings('nse', schema, { NSM_SOMETHING_ELSE_ENTIRELY: 'x' }), ['NSM_SOMETHING_ELSE_ENTIRELY is not a setting of nsm nse (nsm nse --help lists them)'], 'nothing close: no guess');
  t.same(unknownSettingWarnings('nse', schema, { NSM_SANDBOX_DIR: '/x', OTHER: 'y' }), [], 'shared variables and others are not reported');
  t.equal(closestSetting('NSM_SERVICE_NAME', schema), 'NSM_SERVICE_NAMES');
});

t.test('nsm <command> warns at start, before it runs', async (t) => {
  let err = '';
  const sink = { write: (s: string) => (err += s) };
  const code = await runCli(['nse'], { NSM_CIDR_PREFX: '10.0.0.0/24' }, sink, sink);
  t.equal(code, 2, 'nse without services stops, as before');
  t.match(err, /^nsm nse: warning: NSM_CIDR_PREFX is not a setting of nsm nse; did you mean NSM_CIDR_PREFIX\?\n/);
});
