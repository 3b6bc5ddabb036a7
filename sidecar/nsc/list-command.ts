import { ConnectionEventType, Keys, MonitorScopeSelector, State, type Connection } from '../../proto/api.ts';
import { defineCommand } from '../../sdk/cli.ts';
import { NsmError } from '../../sdk/errors.ts';
import { monitorConnections } from '../../sdk/grpc/monitor-client.ts';
import { clientApiEnv, dialClientApi } from './api-env.ts';

const STATES: Record<number, string> = { [State.UP]: 'UP', [State.DOWN]: 'DOWN', [State.REFRESH_REQUESTED]: 'REFRESH', [State.RESELECT_REQUESTED]: 'RESELECT' };

/** One line per connection, as `nsm nsc list` prints them. */
export function connectionRows(conns: readonly Connection[]): string[][] {
  return [...conns].sort((a, b) => a.id.localeCompare(b.id)).map((c) => [
    c.mechanism?.parameters[Keys.name] ?? c.mechanism?.parameters[Keys.socketfile] ?? '',
    c.networkService,
    c.networkServiceEndpointName || '-',
    c.context?.ipContext?.srcIpAddrs.join(',') || '-',
    STATES[c.state] ?? String(c.state),
    c.id,
  ]);
}

export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows].map((r) => r.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

export default defineCommand({
  summary: 'list the pod\'s connections, from its sidecar\'s client API (run in the pod)',
  env: clientApiEnv,
  async run(config) {
    const client = await dialClientApi(config);
    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(), config.NSM_REQUEST_TIMEOUT);
    try {
      for await (const e of monitorConnections(client.channel, MonitorScopeSelector.fromPartial({}), stop.signal)) {
        if (e.type !== ConnectionEventType.INITIAL_STATE_TRANSFER) continue;
        process.stdout.write(`${formatTable(['INTERFACE', 'SERVICE', 'ENDPOINT', 'ADDRESSES', 'STATE', 'ID'], connectionRows(Object.values(e.connections)))}\n`);
        return 0;
      }
      throw new NsmError('UNAVAILABLE', `the sidecar at ${config.NSM_CLIENT_API} ended the stream before listing its connections`);
    } finally {
      clearTimeout(timer);
      stop.abort();
      client.shutdown();
    }
  },
});
