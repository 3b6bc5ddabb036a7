import t from 'tap';
import { helperPids, ip, IpError, ipJson, runIp, runIpSync, spawnIp } from '../../sdk/ip-command.ts';
import { addNetns, uniquePrefix, whyNoKernelTests } from '../fixtures/netns.ts';

const skip = whyNoKernelTests();

t.test('each value is one argument: nothing in it is split, quoted or read by a shell', { skip }, async (t) => {
  const ns = addNetns(t, uniquePrefix('ipc'));
  const path = `/run/netns/${ns}`;
  const alias = `a b "c" 'd' #e \\f $(g) ;h`;
  await ip(['link', 'set', 'dev', 'lo', 'alias', alias], { netns: path });
  const [lo] = (await ipJson(['link', 'show', 'dev', 'lo'], { netns: path })) as Array<{ ifalias?: string }>;
  t.equal(lo.ifalias, alias);
  t.equal(runIpSync(['-j', 'link', 'show', 'dev', 'lo'], { netns: path }).ok, true, 'the blocking form runs there too');
});

t.test('ip\'s refusal keeps its words; a status is no exception for runIp', { skip }, async (t) => {
  const ns = addNetns(t, uniquePrefix('ipc'));
  const err = await ip(['link', 'set', 'dev', 'nosuchdev', 'up'], { netns: `/run/netns/${ns}` }).catch((e: unknown) => e);
  t.ok(err instanceof IpError);
  t.match((err as IpError).stderr, /Cannot find device "nosuchdev"/);
  t.match((err as IpError).message, /^ip link set dev nosuchdev up: Cannot find device "nosuchdev"/);
  const r = await runIp(['link', 'set', 'dev', 'nosuchdev', 'up'], { netns: `/run/netns/${ns}` });
  t.same([r.ok, r.status], [false, 1]);
  const s = runIpSync(['link', 'set', 'dev', 'nosuchdev', 'up'], { netns: `/run/netns/${ns}` });
  t.same([s.ok, s.status], [false, 1]);
  t.match(s.stderr, /Cannot find device/);
});

t.test('a namespace that is not there: the words of nsenter', { skip }, async (t) => {
  const r = await runIp(['link', 'show'], { netns: `/run/netns/${uniquePrefix('never')}` });
  t.equal(r.ok, false);
  t.match(r.stderr, /nsenter: .*No such file or directory/);
});

t.test('input goes to stdin; a process that runs too long is killed', { skip }, async (t) => {
  const ns = addNetns(t, uniquePrefix('ipc'));
  const r = await runIp(['-batch', '-'], { netns: `/run/netns/${ns}`, input: 'link set dev lo up\n' });
  t.equal(r.ok, true);
  // `ip monitor` runs until it is stopped.
  const slow = await runIp(['monitor', 'link'], { netns: `/run/netns/${ns}`, timeoutMs: 200 });
  t.same([slow.ok, slow.status], [false, null], 'killed');
});

t.test('running ip processes are known by pid, and forgotten when they exit', { skip }, async (t) => {
  const child = spawnIp(['-batch', '-'], { stdio: ['pipe', 'ignore', 'ignore'] });
  t.ok(child.pid !== undefined && helperPids.has(child.pid));
  const exited = new Promise((r) => child.once('exit', r));
  child.stdin!.end();
  await exited;
  t.notOk(helperPids.has(child.pid!));
});
