import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ROOT, whyNoKernelTests } from '../fixtures/netns.ts';
import { isolatedSandbox } from '../fixtures/sandbox.ts';

const skip = whyNoKernelTests();
const example = join(ROOT, 'examples', 'healing');

/** examples/healing (two endpoints of one service, a client), as one YAML stream. */
function healingExample(): string {
  const files = readdirSync(example).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();
  return files.map((f) => readFileSync(join(example, f), 'utf8')).join('\n---\n');
}

t.test('nsm sandbox kill and restart: a user watches healing', { skip, timeout: 120_000 }, async (t) => {
  const sandbox = isolatedSandbox(t, 'sf');
  const up = await sandbox(['up']);
  t.equal(up.code, 0, up.stderr);
  const applied = await sandbox(['apply', '-f', '-'], healingExample());
  t.equal(applied.code, 0, applied.stderr);
  t.match(applied.stdout, /pod\/nse-healing-1 created/);
  const status = await sandbox(['status']);
  const on = /^healing-client\s+\S+\s+nsm-1\s+\S+\s+\S+\s+KERNEL\s+(nse-healing-\d)/m.exec(status.stdout)?.[1];
  t.ok(on, 'healing-client is connected');
  const other = on === 'nse-healing-0' ? 'nse-healing-1' : 'nse-healing-0';

  const killed = await sandbox(['kill', on!]);
  t.equal(killed.code, 0, killed.stderr);
  t.match(killed.stdout, new RegExp(`^pod/${on} killed`, 'm'));
  t.match(killed.stdout, new RegExp(`^healing-client/nsm-1 \\(was on ${on}\\): reconnected to ${other} after \\d+ ms$`, 'm'), 'it says when the client reached the other endpoint');
  t.match(killed.stdout, new RegExp(`^healing-client\\s+node1\\s+nsm-1\\s+\\S+\\s+${other}`, 'm'), 'and shows the table');

  const restarted = await sandbox(['restart', other]);
  t.equal(restarted.code, 0, restarted.stderr);
  t.match(restarted.stdout, new RegExp(`^pod/${other} restarted \\(nse pid \\d+\\)`, 'm'));
  t.match(restarted.stdout, new RegExp(`^healing-client/nsm-1 \\(was on ${other}\\): kept ${other}$`, 'm'), 'a crash and restart of the endpoint keeps the connection');

  const forwarder = await sandbox(['restart', 'node/node1']);
  t.equal(forwarder.code, 0, forwarder.stderr);
  t.match(forwarder.stdout, /^the forwarder of node\/node1 restarted/m);
  t.match(forwarder.stdout, new RegExp(`^healing-client/nsm-1 \\(was on ${other}\\): kept ${other}$`, 'm'));

  const bad = await sandbox(['kill', 'nobody']);
  t.not(bad.code, 0);
  t.match(bad.stderr, /"nobody": name a pod \(.*healing-client.*\) or a node as node\/NAME/);
});
