import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeProblems, startupProblems } from '../../forwarder/startup-checks.ts';
import { probeLinkTypes } from '../../forwarder/tunnels/probe.ts';
import { hostProblem } from '../../sandbox/host-checks.ts';
import { missingTool, onPath, PING } from '../../sdk/host-tools.ts';
import { NSM, uniquePrefix, whyNoKernelTests, type T } from '../fixtures/netns.ts';

/** A PATH of one directory holding only the named host programs (links to the real ones). */
function pathWith(t: T, commands: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'nsm-path-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const c of commands) {
    const real = spawnSync('sh', ['-c', `command -v ${c}`], { encoding: 'utf8' }).stdout.trim();
    if (real) symlinkSync(real, join(dir, c));
  }
  return dir;
}

/** Runs `nsm sandbox ...` with this PATH, its state and namespaces isolated from a user's sandbox. */
function sandbox(t: T, args: string[], path: string, wrap: string[] = []) {
  const dir = mkdtempSync(join(tmpdir(), 'nsm-sandbox-'));
  const env = { PATH: path, HOME: dir, NSM_SANDBOX_DIR: join(dir, 'state'), NSM_SANDBOX_NETNS_PREFIX: uniquePrefix('hc') };
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const argv = [...wrap, process.execPath, NSM, 'sandbox', ...args];
  return spawnSync(argv[0] ?? '', argv.slice(1), { encoding: 'utf8', env, timeout: 30_000 });
}

const noKernel = whyNoKernelTests();

t.test('a program missing from PATH: one line naming it and its Debian package', async (t) => {
  const path = pathWith(t, ['ip', 'openssl']);
  t.notOk(onPath('ping', path));
  t.equal(missingTool('the sandbox', [PING], path), 'the sandbox needs ping (checking each connection), which is not on PATH: install it with apt-get install iputils-ping');
  t.equal(missingTool('the sandbox', [PING], pathWith(t, ['ping'])), undefined, 'found when PATH has it');
});

t.test('nsm sandbox up stops at start: no ping, no ip', { skip: noKernel }, async (t) => {
  const noPing = sandbox(t, ['up'], pathWith(t, ['ip', 'openssl']));
  t.equal(noPing.status, 1);
  t.equal(noPing.stderr, 'nsm sandbox: the sandbox needs ping (checking each connection), which is not on PATH: install it with apt-get install iputils-ping\n');
  t.equal(noPing.stdout, '', 'nothing was built');
  const noIp = sandbox(t, ['up'], pathWith(t, ['ping', 'openssl']));
  t.equal(noIp.stderr, 'nsm sandbox: the sandbox needs ip (network namespaces and links), which is not on PATH: install it with apt-get install iproute2\n');
  const demo = sandbox(t, ['demo'], pathWith(t, ['ip', 'openssl']));
  t.match(demo.stderr, /^nsm sandbox: the sandbox needs ping .*apt-get install iputils-ping\n$/, 'npm start (the demo) says the same before building anything');
  t.equal(demo.stdout, '');
  const apply = sandbox(t, ['apply', '-f', '-'], pathWith(t, []));
  t.match(apply.stderr, /^nsm sandbox: the sandbox needs ip .*apt-get install iproute2\n$/, 'apply needs ip too');
});

const setpriv = spawnSync('sh', ['-c', 'command -v setpriv'], { encoding: 'utf8' }).stdout.trim();

t.test('not root: one line', { skip: noKernel || (setpriv ? false : 'setpriv (util-linux) is not installed') }, async (t) => {
  const path = pathWith(t, ['ip', 'ping', 'openssl']);
  const r = sandbox(t, ['up'], path, [setpriv, '--reuid=65534', '--regid=65534', '--clear-groups']);
  // Under tap a coverage recorder rides along in child processes; as nobody it cannot write its
  // file and adds its own complaint after ours, so only the first line is ours to check.
  t.equal(r.stderr.split('\n')[0], 'nsm sandbox: the sandbox needs root: it creates network namespaces and runs the forwarder; run it with sudo (sudo npm start, or sudo npx nsm sandbox ...)');
  t.equal(r.stdout, '', 'nothing was built');
});

t.test('a kernel without a link type the sandbox needs', async (t) => {
  const root = process.getuid?.() === 0;
  const path = pathWith(t, ['ip', 'ping', 'openssl']);
  const probe = async () => ({ veth: { available: true }, bridge: { available: true }, vxlan: { available: false, reason: 'Error: Unknown device type.' } });
  const problem = await hostProblem({ buildsNodes: true, nodes: 2 }, path, probe);
  if (root) t.equal(problem, 'the sandbox needs vxlan links, and this kernel cannot create them (Error: Unknown device type.): load the module with modprobe vxlan, or run a single node (--nodes 1)');
  else t.match(problem, /needs root/);
  if (root) t.equal(await hostProblem({ buildsNodes: true, nodes: 1 }, path, probe), undefined, 'one node needs no vxlan');
});

t.test('the real kernel: what it has passes, what it lacks is named in its own words', { skip: noKernel }, async (t) => {
  const path = pathWith(t, ['ip', 'ping', 'openssl']);
  t.equal(await hostProblem({ buildsNodes: true, nodes: 2 }, path), undefined, 'veth, bridge and vxlan are here');
  const gre = (await probeLinkTypes(['gre'])).gre;
  if (gre.available) return t.pass('this kernel has gre: nothing lacking to name');
  t.match(gre.reason, /Unknown device type|not supported|Operation not supported/i);
});

t.test('the forwarder names a missing ip in one line', async (t) => {
  const problems = startupProblems(pathWith(t, []));
  const line = 'the forwarder needs ip (network namespaces and links), which is not on PATH: install it with apt-get install iproute2';
  t.ok(problems.includes(line), problems.join('\n'));
  t.equal(describeProblems([line]), `cannot start: ${line}`, 'one problem, one line');
  t.equal(describeProblems(['a', 'b']), 'cannot start:\n  - a\n  - b');
  if (process.getuid?.() === 0) t.notOk(startupProblems(pathWith(t, ['ip'])).some((p) => p.includes('not on PATH')));
});
