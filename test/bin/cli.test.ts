import t from 'tap';
import { spawnSync } from 'node:child_process';
import { commands, commandHelp, runCli } from '../../bin/cli.ts';

function capture() {
  let text = '';
  return { stream: { write: (s: string) => { text += s; } }, text: () => text };
}

t.test('nsm --help lists every subcommand (real process)', async (t) => {
  const r = spawnSync(process.execPath, ['bin/nsm.ts', '--help'], { encoding: 'utf8' });
  t.equal(r.status, 0);
  for (const name of ['webhook', 'inject', 'forwarder', 'nsc init', 'nsc run', 'nse', 'sandbox']) t.match(r.stdout, new RegExp(`\\n  ${name}\\s+\\S`), name);
});

t.test('every subcommand has --help with its environment', async (t) => {
  for (const [name, load] of commands) {
    const out = capture();
    t.equal(await runCli([...name.split(' '), '--help'], {}, out.stream, out.stream), 0, name);
    const command = (await load()).default;
    t.equal(out.text(), commandHelp(name, command));
    for (const variable of Object.keys(command.env)) t.match(out.text(), variable, `${name} documents ${variable}`);
  }
});

t.test('no command, unknown command and bad env values fail with a message', async (t) => {
  let out = capture();
  t.equal(await runCli([], {}, out.stream, out.stream), 2);
  out = capture();
  t.equal(await runCli(['frobnicate'], {}, out.stream, out.stream), 2);
  t.match(out.text(), /unknown command "frobnicate"/);
  out = capture();
  t.equal(await runCli(['nsc', 'init'], { NSM_REQUEST_TIMEOUT: 'soon' }, out.stream, out.stream), 2);
  t.match(out.text(), /nsm nsc init: NSM_REQUEST_TIMEOUT: "soon" is not valid/);
});
