import t from 'tap';
import { execFileSync } from 'node:child_process';
import { probeLinkTypes } from '../../../forwarder/tunnels/probe.ts';

t.test('probe logic: each type tried in a throwaway namespace that is always removed', async (t) => {
  const calls: string[][] = [];
  const result = await probeLinkTypes(['vxlan', 'gre'], async (args) => {
    calls.push(args);
    if (args.includes('gre')) throw Object.assign(new Error('exit 2'), { stderr: 'Error: Unknown device type.\n' });
  });
  t.same(result, { vxlan: { available: true }, gre: { available: false, reason: 'Error: Unknown device type.' } });
  const ns = calls[0][2];
  t.match(ns, /^nsm-probe-\d+-[0-9a-f]{6}$/);
  t.same(calls[0], ['netns', 'add', ns]);
  t.same(calls.at(-1), ['netns', 'del', ns]);
  t.ok(calls.slice(1, -1).every((c) => c[0] === '-n' && c[1] === ns), 'every trial runs inside the probe namespace');
});

t.test('the namespace is removed even when a trial runner throws unexpectedly', async (t) => {
  const calls: string[][] = [];
  const boom = new Error('runner broke');
  const result = await probeLinkTypes(['vxlan'], async (args) => {
    calls.push(args);
    if (args[0] === '-n') throw boom;
  });
  t.equal(result.vxlan.available, false);
  t.equal(result.vxlan.reason, 'runner broke');
  t.equal(calls.at(-1)?.[1], 'del');
});

const root = process.getuid?.() === 0;
t.test('real kernel: vxlan is found, unknown types carry the kernel\'s reason', { skip: root ? false : 'needs root' }, async (t) => {
  // Other tests create and remove namespaces meanwhile: only this process's probe namespaces count.
  const ours = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith(`nsm-probe-${process.pid}-`));
  const result = await probeLinkTypes();
  t.same(result.vxlan, { available: true });
  for (const type of ['gre', 'gretap'] as const) {
    if (!result[type].available) t.match(result[type].reason, /\S/, `${type}: ${result[type].reason}`);
  }
  t.same(ours(), [], 'no namespace left behind');
});
