/**
 * bench:heal's fresh-setup baseline, inside a client pod's network namespace: on each line
 * `{"forwarder": ..., "service": ...}` it requests a connection, pings the endpoint's address
 * every 10 ms until the first reply, closes the connection and answers `{"ms": <request to first
 * reply>}` (or `{"error": ..., "ms": <request to refusal>}`), the same measure bench:heal takes of a heal.
 *
 *   ip netns exec <pod> node bench/heal-client.ts
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Connection, kernelMechanism } from '../proto/api.ts';
import { NetworkServiceClient } from '../sdk/grpc/networkservice-client.ts';
import { ownNetnsUrl } from '../sdk/netns.ts';

/** Resolves when `address` first answers a ping sent every 10 ms (at most 10 s). */
function firstReply(address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const ping = spawn('ping', ['-n', '-i', '0.01', '-W', '1', '-w', '10', address], { stdio: ['ignore', 'pipe', 'ignore'] });
    ping.stdout.on('data', (b: Buffer) => {
      if (/bytes from/.test(b.toString())) {
        ping.kill();
        resolve();
      }
    });
    ping.on('exit', () => reject(new Error(`no reply from ${address} within 10 s`)));
  });
}

const clients = new Map<string, Promise<NetworkServiceClient>>();
let n = 0;
for await (const line of createInterface({ input: process.stdin })) {
  const { forwarder, service } = JSON.parse(line) as { forwarder: string; service: string };
  let c = clients.get(forwarder);
  if (!c) clients.set(forwarder, (c = NetworkServiceClient.dial(forwarder)));
  const client = await c;
  const id = `fresh-${process.pid}-${++n}`;
  const started = performance.now();
  try {
    const conn = await client.request({
      connection: Connection.fromPartial({ id, networkService: service, path: { index: 0, pathSegments: [{ name: 'fresh', id }] } }),
      mechanismPreferences: [kernelMechanism({ name: 'nsm-fresh', inodeURL: ownNetnsUrl() })],
    }, { timeoutMs: 15_000 });
    await firstReply(conn.context!.ipContext!.dstIpAddrs[0].split('/')[0]);
    const ms = performance.now() - started;
    await client.close(conn, { timeoutMs: 15_000 });
    process.stdout.write(`${JSON.stringify({ ms })}\n`);
  } catch (err) {
    process.stdout.write(`${JSON.stringify({ error: (err as Error).message, ms: performance.now() - started })}\n`);
  }
}
for (const c of clients.values()) (await c).shutdown();
