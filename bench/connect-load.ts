/**
 * One client pod's share of bench:connect's load: runs inside the pod's network namespace (the
 * forwarder lets a pod ask only for its own), requests and closes connections when told, over a
 * line protocol on stdin/stdout (one JSON object a line each way).
 *
 *   ip netns exec <pod> node bench/connect-load.ts <forwarder address> <pod index> [--grpc-js]
 *   -> {"op":"setup","tag":"b","count":100,"concurrency":7}   <- {"latencies":[...]}
 *   -> {"op":"close","concurrency":7}                         <- {"closed":100}
 */
import { createInterface } from 'node:readline';
import { Connection, kernelMechanism, NetworkServiceDefinition, type NetworkServiceRequest } from '../proto/api.ts';
import { NetworkServiceClient } from '../sdk/grpc/networkservice-client.ts';
import { ownNetnsUrl } from '../sdk/netns.ts';
import { LeanGrpcClient } from './grpc-load.ts';

interface LoadClient {
  request(req: NetworkServiceRequest): Promise<Connection>;
  close(conn: Connection): Promise<void>;
}

async function loadClient(address: string, grpcJs: boolean): Promise<LoadClient> {
  if (grpcJs) {
    const c = await NetworkServiceClient.dial(address);
    return { request: (r) => c.request(r, { timeoutMs: 60_000 }), close: (x) => c.close(x, { timeoutMs: 60_000 }) };
  }
  const c = await LeanGrpcClient.connect(address);
  const m = NetworkServiceDefinition.methods;
  return { request: (r) => c.unary(NetworkServiceDefinition, m.request, r, 60_000), close: async (x) => { await c.unary(NetworkServiceDefinition, m.close, x, 60_000); } };
}

async function pool<T>(items: T[], width: number, f: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (i < items.length) await f(items[i++]);
  }));
}

const [address, pod, flag] = process.argv.slice(2);
const client = await loadClient(address, flag === '--grpc-js');
const netns = ownNetnsUrl();
const kept: Connection[] = [];
const say = (o: unknown) => void process.stdout.write(`${JSON.stringify(o)}\n`);

const request = (tag: string, k: number) => {
  const id = `${tag}-${pod}-${k}`;
  return client.request({
    connection: Connection.fromPartial({ id, networkService: 'bench', path: { index: 0, pathSegments: [{ name: `pod${pod}`, id }] } }),
    mechanismPreferences: [kernelMechanism({ name: `ns${tag}-${k}`, inodeURL: netns })],
  });
};

say({ ready: true });
for await (const line of createInterface({ input: process.stdin })) {
  const cmd = JSON.parse(line) as { op: string; tag?: string; count?: number; concurrency?: number };
  if (cmd.op === 'setup') {
    const latencies: number[] = [];
    await pool(Array.from({ length: cmd.count! }, (_, k) => k), cmd.concurrency!, async (k) => {
      const s = performance.now();
      kept.push(await request(cmd.tag!, k));
      latencies.push(performance.now() - s);
    });
    say({ latencies });
  } else if (cmd.op === 'close') {
    const all = kept.splice(0);
    await pool(all, cmd.concurrency!, (c) => client.close(c));
    say({ closed: all.length });
  } else break;
}
process.exit(0);
