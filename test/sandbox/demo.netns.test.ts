import t from 'tap';
import { spawnSync } from 'node:child_process';
import { whyNoKernelTests } from '../fixtures/netns.ts';
import { isolatedSandbox } from '../fixtures/sandbox.ts';

const skip = whyNoKernelTests() || (spawnSync('sh', ['-c', 'command -v ping']).status === 0 ? false : 'ping (iputils-ping) is not installed');
/** What a failed step printed, and only then. */
const unless = (ok: boolean, what: string, output: string) => (ok ? what : `${what}: ${output}`);
/** Six examples on three nodes: about 40 s alone, longer beside the other tests; this file has the run's 120 s to itself. */
const DEMO_LIMIT_MS = 110_000;

t.test('npm start: the demo runs every scenario and prints client-to-client reachability in the bridge domain', { skip, timeout: 115_000 }, async (t) => {
  const sandbox = isolatedSandbox(t, 'bx');
  const demo = await sandbox(['demo'], '', DEMO_LIMIT_MS);
  t.equal(demo.code, 0, unless(demo.code === 0, 'the demo exits 0', demo.stdout + demo.stderr));
  t.match(demo.stdout, /^demo ok in [\d.]+ s$/m);
  for (const [from, to] of [[0, 1], [0, 2], [1, 0], [1, 2], [2, 0], [2, 1]]) {
    t.match(demo.stdout, new RegExp(`^bridge-domain\\s+domain-client-${from}\\s+node\\d\\s+domain-client-${to}\\s+node\\d\\s+10\\.61\\.\\d\\.2\\s+ok$`, 'm'), `client ${from} reaches client ${to}`);
  }
  t.match(demo.stdout, /^live-client\s+node\d\s+nsm-2\s+172\.16\.11\.\d+\/32/m, 'the live client\'s annotation edited: its new interface');
  t.match(demo.stdout, /^live-client\s+node\d\s+app-1\s+172\.16\.12\.\d+\/32/m, 'and the interface an application in it asked for');
  t.match(demo.stdout, /^sandbox removed/m, 'and takes the sandbox down');
});
