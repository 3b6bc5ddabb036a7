import t from 'tap';
import { stopSignal } from '../../sdk/stop-signal.ts';

t.test('a stop signal sent before anyone waits is kept, once, and the handlers go', async (t) => {
  const before = process.listenerCount('SIGTERM');
  const beforeInt = process.listenerCount('SIGINT');
  const stopped = stopSignal();
  t.equal(process.listenerCount('SIGTERM'), before + 1, 'listening from the call on');
  process.kill(process.pid, 'SIGTERM');
  await new Promise((r) => setTimeout(r, 50)); // the signal arrives while nothing awaits it yet
  t.equal(await stopped, 'SIGTERM');
  t.equal(process.listenerCount('SIGTERM'), before, 'SIGTERM handler removed');
  t.equal(process.listenerCount('SIGINT'), beforeInt, 'and the SIGINT one');
});

