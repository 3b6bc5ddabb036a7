import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { awaitInit, lastRequestError, lastWords } from '../../sandbox/pod-progress.ts';

const line = (o: object) => JSON.stringify({ level: 40, time: 1, ...o });

t.test('what a client waits for, and the last words of a process', async (t) => {
  const dir = t.testdir({
    client: [line({ msg: 'starting' }), line({ msg: 'request failed; retrying', service: 'k2k', err: 'no endpoint' }), line({ msg: 'request failed; retrying', service: 'k2k', err: 'endpoint refused' }), ''].join('\n'),
    quiet: line({ msg: 'starting' }),
    crashed: [line({ msg: 'starting' }), 'nsm nse: NSM_CIDR_PREFIX: bad', ''].join('\n'),
    logged: [line({ msg: 'x', err: { message: 'socket gone' } })].join('\n'),
  });
  t.equal(lastRequestError(join(dir, 'client')), 'k2k: endpoint refused', 'the latest failure');
  t.equal(lastRequestError(join(dir, 'quiet')), undefined);
  t.equal(lastRequestError(join(dir, 'missing')), undefined, 'no log yet');
  t.equal(lastWords(join(dir, 'crashed')), 'nsm nse: NSM_CIDR_PREFIX: bad');
  t.equal(lastWords(join(dir, 'logged')), 'socket gone');
  t.equal(lastWords(join(dir, 'quiet')), 'it left no message');
});

t.test('awaitInit reports each new wait and fails when a process it depends on is gone', async (t) => {
  const dir = t.testdir({ log: '' });
  const log = join(dir, 'log');
  let finish: (r: { code: number | null; log: string }) => void = () => {};
  let stopped = false;
  const run = { done: new Promise<{ code: number | null; log: string }>((r) => (finish = r)), stop: () => { stopped = true; finish({ code: null, log }); } };
  const said: string[] = [];
  const gone = { pid: 2 ** 22 + 1, starttime: 'x', pod: 'nse-0', container: 'nse', log: join(dir, 'nse.log') };
  writeFileSync(gone.log, 'nsm nse: bad pool\n');
  writeFileSync(log, `${line({ msg: 'request failed; retrying', service: 's', err: 'not registered' })}\n`);
  await t.rejects(awaitInit('c', 'init', run, log, [gone], (s) => said.push(s)), /pod c cannot start: container nse of pod nse-0 exited: nsm nse: bad pool .*; init was waiting for s: not registered/);
  t.same(said, ['pod/c: init container init waits for s: not registered']);
  t.ok(stopped, 'the init container was stopped');

  const ok = { done: Promise.resolve({ code: 0, log }), stop: () => {} };
  t.same(await awaitInit('c', 'init', ok, log, [], () => {}), { code: 0, log }, 'an init container that ends is its result');
});
