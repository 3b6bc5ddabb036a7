import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { kubectl } from '../fixtures/kube-cli.ts';
import { ROOT, whyNoKernelTests } from '../fixtures/netns.ts';
import { isolatedSandbox } from '../fixtures/sandbox.ts';

const skip = whyNoKernelTests() || (spawnSync('sh', ['-c', 'command -v ping']).status === 0 ? false : 'ping (iputils-ping) is not installed');
const example = (name: string) => join(ROOT, 'examples', name);
/** What a failed step printed, and only then. */
const unless = (ok: boolean, what: string, output: string) => (ok ? what : `${what}: ${output}`);

t.test('nsm sandbox runs either bridge example on its own', { skip, timeout: 120_000 }, async (t) => {
  await t.test('l2-bridge: one bridge, three clients on one node', async (t) => {
    const sandbox = isolatedSandbox(t, 'bl');
    const demo = await sandbox(['demo', 'l2-bridge']);
    t.equal(demo.code, 0, unless(demo.code === 0, 'the demo of l2-bridge exits 0', demo.stdout + demo.stderr));
    t.match(demo.stdout, /^node node1 up/m);
    t.notMatch(demo.stdout, /^node node2 up/m, 'one node is enough');
    t.equal(demo.stdout.match(/^l2-bridge\s+l2-client-\d\s+node1\s+l2-client-\d\s+node1\s+10\.60\.0\.[234]\s+ok$/gm)?.length, 6, 'each pair of clients, both ways');
  });

  await t.test('bridge-domain: kubectl kustomize | nsm sandbox apply -f -, then status', async (t) => {
    const sandbox = isolatedSandbox(t, 'bd');
    t.equal((await sandbox(['up', '--nodes', '3'])).code, 0);
    const built = await kubectl(undefined, ['kustomize', example('bridge-domain')]);
    t.equal(built.code, 0, built.stderr);
    const applied = await sandbox(['apply', '-f', '-'], built.stdout);
    t.equal(applied.code, 0, applied.stderr);
    const status = await sandbox(['status']);
    const rows = status.stdout.split('\n').filter((l) => l.startsWith('domain-client-'));
    t.equal(rows.length, 3, unless(rows.length === 3, 'three clients connected', status.stdout));
    for (const row of rows) {
      const [, node, , address, bridge, mechanism, endpoint, endpointNode] = row.split(/\s+/);
      t.equal(endpointNode, node, `the bridge of ${row.split(/\s+/)[0]} is on its own node`);
      t.match(endpoint, new RegExp(`^bridge-${node}-0$`));
      t.equal(mechanism, 'KERNEL');
      t.match(address, /^10\.61\.[123]\.2\/16$/);
      t.match(bridge, /^10\.61\.[123]\.1\/16$/);
    }
    const addresses = rows.map((r) => r.split(/\s+/)[3].split('/')[0]);
    const pods = rows.map((r) => `${sandbox.prefix}${r.split(/\s+/)[0]}`);
    for (const [i, from] of pods.entries()) {
      for (const to of addresses.filter((_, j) => j !== i)) {
        const ping = spawnSync('ip', ['netns', 'exec', from, 'ping', '-c', '1', '-W', '2', to], { encoding: 'utf8', timeout: 10_000 });
        t.equal(ping.status, 0, unless(ping.status === 0, `${from.slice(sandbox.prefix.length)} pings ${to}`, ping.stdout));
      }
    }
  });

  await t.test('apply -f takes a folder as kubectl does, without its kustomization', async (t) => {
    const sandbox = isolatedSandbox(t, 'bf');
    t.equal((await sandbox(['up'])).code, 0);
    const applied = await sandbox(['apply', '-f', example('l2-bridge')]);
    t.equal(applied.code, 0, applied.stderr);
    t.match(applied.stdout, /^networkservice\/l2-bridge created$/m);
    t.match(applied.stdout, /^pod\/l2-client-2 created on node1$/m);
  });
});
