import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConnectionEventType, MonitorScopeSelector } from '../../../proto/api.ts';
import { monitor } from '../../../sdk/elements/monitor.ts';
import { dial } from '../../../sdk/grpc/client.ts';
import { monitorConnections } from '../../../sdk/grpc/monitor-client.ts';
import { startGrpcServer } from '../../../sdk/grpc/server.ts';

const LIMIT_MS = 5000;

/** The stream's outcome, or 'still open' when it neither ends nor fails within LIMIT_MS (a stream nobody can stop). */
async function outcome(events: AsyncGenerator): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still open'), LIMIT_MS)));
  const run = (async () => {
    try {
      for await (const _ of events) { /* drained */ }
      return 'ended';
    } catch (err) {
      return (err as { code?: string }).code ?? String(err);
    }
  })();
  try {
    return await Promise.race([run, limit]);
  } finally {
    clearTimeout(timer);
  }
}

t.test('a server stream ends with CANCELLED when its signal aborts, also when it aborted before the stream began', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nsm-stream-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const address = `unix://${join(dir, 'monitor.sock')}`;
  const board = monitor();
  const server = await startGrpcServer({ listenOn: address, services: [board.binding] });
  t.teardown(() => server.stop(0));
  const channel = await dial(address, { dialTimeoutMs: 2000 });
  t.teardown(() => channel.close());
  const selector = MonitorScopeSelector.fromPartial({});

  const live = new AbortController();
  const stream = monitorConnections(channel, selector, live.signal);
  const first = await stream.next();
  t.equal((first.value as { type: ConnectionEventType }).type, ConnectionEventType.INITIAL_STATE_TRANSFER, 'the stream is open');
  setTimeout(() => live.abort(), 50);
  t.equal(await outcome(stream), 'CANCELLED', 'aborted while open');

  const gone = new AbortController();
  gone.abort();
  t.equal(await outcome(monitorConnections(channel, selector, gone.signal)), 'CANCELLED', 'aborted before it began (a stop that came while the caller was dialing)');

  const stopped = new AbortController();
  stopped.abort();
  await t.rejects(dial(address, { signal: stopped.signal, dialTimeoutMs: 60_000 }), { code: 'CANCELLED' }, 'a dial whose signal has aborted ends at once');
});
