import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { ROOT, whyNoKernelTests } from '../fixtures/netns.ts';
import { isolatedSandbox } from '../fixtures/sandbox.ts';

const skip = whyNoKernelTests() || (['nft', 'iperf3'].find((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status !== 0) ?? false);
const example = join(ROOT, 'examples', 'service-chain');
const unless = (ok: boolean, what: string, output: string) => (ok ? what : `${what}: ${output}`);

t.test('examples/service-chain in the sandbox: the client reaches the gateway through the firewall and the inspection function, and the firewall\'s rule drops telnet', { skip, timeout: 120_000 }, async (t) => {
  const sandbox = isolatedSandbox(t, 'sc');
  t.equal((await sandbox(['up', '--nodes', '2'])).code, 0);
  const applied = await sandbox(['apply', '-f', example]);
  t.equal(applied.code, 0, applied.stderr);
  const status = await sandbox(['status']);
  t.match(status.stdout, /^chain-client\s+service-chain\s+chain-client -> firewall-0 -> inspect-0 -> gateway-0$/m, unless(/firewall-0 -> inspect-0/.test(status.stdout), 'status prints the chain the connection took', status.stdout));
  const row = status.stdout.split('\n').find((l) => /^chain-client\s+node1\s+nsm-1/.test(l)) ?? '';
  const gateway = row.split(/\s+/)[4]?.split('/')[0] ?? '';
  t.match(gateway, /^172\.16\.8\.\d+$/, 'the client has the gateway\'s address as its peer');
  const pod = (name: string) => `${sandbox.prefix}${name}`;
  const ping = () => spawnSync('ip', ['netns', 'exec', pod('chain-client'), 'ping', '-c', '1', '-W', '2', gateway], { encoding: 'utf8', timeout: 10_000 });
  t.equal(ping().status, 0, 'the client pings the gateway through the chain');

  // The firewall container (not run by the sandbox) loads the ConfigMap's rules in its pod; here the test does.
  const configMap = parseAllDocuments(readFileSync(join(example, '2-firewall.yaml'), 'utf8')).map((d) => d.toJS()).find((d) => d.kind === 'ConfigMap');
  const loaded = spawnSync('ip', ['netns', 'exec', pod('firewall-0'), 'nft', '-f', '-'], { input: configMap.data['rules.nft'], encoding: 'utf8' });
  t.equal(loaded.status, 0, `the example's rules load: ${loaded.stderr}`);
  // `ip netns exec` becomes iperf3 itself, so each pid is a server's.
  const server = spawn('ip', ['netns', 'exec', pod('gateway-0'), 'iperf3', '-s', '-p', '23'], { stdio: 'ignore' });
  const other = spawn('ip', ['netns', 'exec', pod('gateway-0'), 'iperf3', '-s', '-p', '5201'], { stdio: 'ignore' });
  t.teardown(() => {
    server.kill('SIGKILL');
    other.kill('SIGKILL');
  });
  await new Promise((r) => setTimeout(r, 1000));
  const tcp = (port: number) => spawnSync('ip', ['netns', 'exec', pod('chain-client'), 'timeout', '8', 'iperf3', '-c', gateway, '-p', String(port), '-t', '1', '--connect-timeout', '2000'], { encoding: 'utf8', timeout: 12_000 });
  t.not(tcp(23).status, 0, 'TCP to port 23 (telnet) is dropped by the firewall');
  const passed = tcp(5201);
  t.equal(passed.status, 0, unless(passed.status === 0, 'TCP to another port passes', passed.stdout + passed.stderr));
  t.equal(ping().status, 0, 'and so does ping');
});
