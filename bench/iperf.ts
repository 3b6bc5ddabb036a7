import { spawn, spawnSync } from 'node:child_process';

/** One iperf3 TCP run of `seconds` from `client` to `server` (namespaces) at `address`, in Gbit/s; bounded by `timeout`. */
export async function iperf(server: string, client: string, address: string, seconds: number): Promise<number> {
  const srv = spawn('ip', ['netns', 'exec', server, 'timeout', String(seconds + 20), 'iperf3', '-s', '-1', '-B', address, '-p', '5201'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 300));
  const run = spawnSync('ip', ['netns', 'exec', client, 'timeout', String(seconds + 15), 'iperf3', '-c', address, '-p', '5201', '-t', String(seconds), '-J'], { encoding: 'utf8', timeout: (seconds + 20) * 1000 });
  srv.kill();
  const bps = (JSON.parse(run.stdout || '{}') as { end?: { sum_received?: { bits_per_second?: number } } }).end?.sum_received?.bits_per_second;
  if (!bps) throw new Error(`iperf3 ${client} -> ${address} failed: ${run.stderr || run.stdout}`);
  return bps / 1e9;
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
