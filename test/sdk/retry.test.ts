import t from 'tap';
import { backoffMs, retry, systemClock, Wakeup, type Attempt, type Failure, type Verdict } from '../../sdk/retry.ts';
import { VirtualClock } from '../fixtures/clock.ts';
import { within } from '../fixtures/wait.ts';

/** An attempt that fails `n` times (with errors named by attempt number), then answers 'ok'. */
function failing(n: number, seen: Attempt[] = []) {
  return async (a: Attempt) => {
    seen.push(a);
    if (a.number <= n) throw new Error(`failure ${a.number}`);
    return 'ok';
  };
}

t.test('backoff: the floor after the first failure, doubling, never past the cap', async (t) => {
  t.same([1, 2, 3, 4, 5, 6].map((n) => backoffMs({ floorMs: 100, capMs: 1000 }, n)), [100, 200, 400, 800, 1000, 1000]);
  t.equal(backoffMs({ floorMs: 100, capMs: 1000 }, 0), 100, 'a wait with no counted failure yet is the floor');
  const clock = new VirtualClock();
  const failures: Failure[] = [];
  const seen: Attempt[] = [];
  const result = await retry(failing(6, seen), { backoff: { floorMs: 100, capMs: 1000 }, clock, onFailure: (f) => failures.push(f) });
  t.equal(result, 'ok');
  t.same(clock.sleeps, [100, 200, 400, 800, 1000, 1000]);
  t.same(seen.map((a) => a.number), [1, 2, 3, 4, 5, 6, 7]);
  t.same(seen.map((a) => a.failures), [0, 1, 2, 3, 4, 5, 6]);
  t.same(failures.map((f) => [f.attempt, f.failures, f.counted, f.retryInMs, (f.error as Error).message]), [
    [1, 1, true, 100, 'failure 1'], [2, 2, true, 200, 'failure 2'], [3, 3, true, 400, 'failure 3'],
    [4, 4, true, 800, 'failure 4'], [5, 5, true, 1000, 'failure 5'], [6, 6, true, 1000, 'failure 6'],
  ]);
  t.equal(seen[0].remainingMs, Infinity, 'no deadline: unlimited time');
});

t.test('deadline: the last wait is shortened so an attempt still gets attemptMinMs; then the last failure is thrown', async (t) => {
  const clock = new VirtualClock();
  const seen: Attempt[] = [];
  const failures: Failure[] = [];
  const err = await retry(failing(Infinity, seen), {
    backoff: { floorMs: 200, capMs: 5000 }, deadline: 1000, attemptMinMs: 100, clock, onFailure: (f) => failures.push(f),
  }).catch((e: unknown) => e);
  t.equal((err as Error).message, 'failure 4');
  t.same(clock.sleeps, [200, 400, 300], '200, 400, then 300 instead of 800: the attempt at 900 still has 100 ms');
  t.same(seen.map((a) => a.remainingMs), [1000, 800, 400, 100], 'each attempt is told the time left');
  t.same(failures.map((f) => f.retryInMs), [200, 400, 300, undefined], 'the failure that ends the loop is reported with no wait');
});

t.test('deadline already passed: one attempt still runs, and its failure is thrown', async (t) => {
  const clock = new VirtualClock();
  clock.time = 5000;
  const seen: Attempt[] = [];
  await t.rejects(retry(failing(Infinity, seen), { backoff: { floorMs: 200, capMs: 5000 }, deadline: 1000, clock }), /failure 1/);
  t.equal(seen.length, 1);
  t.same(clock.sleeps, []);
});

t.test('decide: a stop verdict ends the loop with that failure, at once', async (t) => {
  const clock = new VirtualClock();
  const asked: string[] = [];
  const failures: Failure[] = [];
  const err = await retry(failing(Infinity), {
    backoff: { floorMs: 100, capMs: 1000 }, clock, onFailure: (f) => failures.push(f),
    decide: (e, a) => {
      asked.push(`${a.number}:${(e as Error).message}`);
      return a.number === 3 ? 'stop' : 'retry';
    },
  }).catch((e: unknown) => e);
  t.equal((err as Error).message, 'failure 3');
  t.same(asked, ['1:failure 1', '2:failure 2', '3:failure 3']);
  t.same(clock.sleeps, [100, 200]);
  t.same(failures.at(-1), { error: err, attempt: 3, failures: 2, counted: false, retryInMs: undefined });
});

t.test('decide: uncounted failures are retried at the current pace and do not count', async (t) => {
  const clock = new VirtualClock();
  const verdicts: Verdict[] = ['retry-uncounted', 'retry-uncounted', 'retry', 'retry-uncounted', 'retry', 'retry'];
  const seen: Attempt[] = [];
  const result = await retry(failing(verdicts.length, seen), {
    backoff: { floorMs: 100, capMs: 10_000 }, clock, decide: async (_e, a) => verdicts[a.number - 1],
  });
  t.equal(result, 'ok');
  t.same(seen.map((a) => a.failures), [0, 0, 0, 1, 1, 2, 3]);
  t.same(clock.sleeps, [100, 100, 100, 100, 200, 400]);
});

t.test('reset: an attempt that got somewhere starts the count, and the backoff, afresh', async (t) => {
  const clock = new VirtualClock();
  const seen: Attempt[] = [];
  const result = await retry(async (a) => {
    seen.push(a);
    if (a.number === 4) a.reset();
    if (a.number < 6) throw new Error('broken');
    return a.number;
  }, { backoff: { floorMs: 100, capMs: 10_000 }, clock });
  t.equal(result, 6);
  t.same(seen.map((a) => a.failures), [0, 1, 2, 3, 1, 2]);
  t.same(clock.sleeps, [100, 200, 400, 100, 200], 'the failure after the reset waits the floor');
});

t.test('a synchronous throw is a failure like any other', async (t) => {
  const clock = new VirtualClock();
  const result = await retry((a) => {
    if (a.number === 1) throw new Error('thrown');
    return Promise.resolve('ok');
  }, { backoff: { floorMs: 50, capMs: 50 }, clock });
  t.equal(result, 'ok');
  t.same(clock.sleeps, [50]);
});

t.test('abort: before the first attempt, nothing runs', async (t) => {
  const stop = new AbortController();
  stop.abort(new Error('stopped'));
  let attempts = 0;
  await t.rejects(retry(async () => ++attempts, { backoff: { floorMs: 1, capMs: 1 }, signal: stop.signal }), /stopped/);
  t.equal(attempts, 0);
});

t.test('abort: the attempt in flight sees it; the loop ends with the reason, neither decide nor onFailure asked', async (t) => {
  const stop = new AbortController();
  let asked = 0;
  const done = retry((a) => new Promise((_, reject) => a.signal.addEventListener('abort', () => reject(new Error('cancelled call')))), {
    backoff: { floorMs: 1, capMs: 1 }, signal: stop.signal, clock: new VirtualClock(), decide: () => (asked++, 'retry'), onFailure: () => asked++,
  });
  stop.abort(new Error('connection closed'));
  await t.rejects(done, /connection closed/);
  t.equal(asked, 0);
});

t.test('abort: a wait in progress ends at once and nothing is left waiting', async (t) => {
  const clock = new VirtualClock();
  clock.hold = () => true;
  const stop = new AbortController();
  let attempts = 0;
  const done = retry(async () => {
    attempts++;
    throw new Error('refused');
  }, { backoff: { floorMs: 60_000, capMs: 60_000 }, signal: stop.signal, clock });
  t.ok(await within(2000, () => clock.waiting.length === 1), 'waiting after the first failure');
  t.same(clock.waiting, [60_000]);
  stop.abort(new Error('stopped'));
  await t.rejects(done, /stopped/);
  t.same(clock.waiting, [], 'no wait left behind');
  t.equal(attempts, 1);
  t.equal(clock.time, 0, 'the wait never ran its course');
});

t.test('wakeup: a wake ends the wait in progress; the next attempt runs at once', async (t) => {
  const clock = new VirtualClock();
  clock.hold = () => true;
  const wakeup = new Wakeup();
  const seen: Attempt[] = [];
  const done = retry(failing(1, seen), { backoff: { floorMs: 60_000, capMs: 60_000 }, clock, wakeup });
  t.ok(await within(2000, () => clock.waiting.length === 1), 'waiting after the first failure');
  wakeup.wake();
  t.equal(await done, 'ok');
  t.equal(seen.length, 2);
  t.equal(clock.time, 0, 'no time passed: the wake, not the clock, ended the wait');
});

t.test('wakeup: a wake during an attempt skips the next wait, once', async (t) => {
  const clock = new VirtualClock();
  clock.hold = () => true;
  const wakeup = new Wakeup();
  const stop = new AbortController();
  let attempts = 0;
  const done = retry(async (a) => {
    attempts++;
    if (a.number === 1) wakeup.wake();
    throw new Error('refused');
  }, { backoff: { floorMs: 500, capMs: 500 }, clock, wakeup, signal: stop.signal });
  t.ok(await within(2000, () => clock.waiting.length === 1), 'the second failure waits');
  t.equal(attempts, 2, 'the first failure was retried without a wait');
  t.same(clock.sleeps, [500], 'only the second failure slept');
  stop.abort();
  await t.rejects(done);
});

t.test('Wakeup.sleep without a wake runs its course; an early wake is kept for it', async (t) => {
  const clock = new VirtualClock();
  const wakeup = new Wakeup();
  const never = new AbortController().signal;
  await wakeup.sleep(300, never, clock);
  t.equal(clock.time, 300, 'slept the whole time');
  wakeup.wake();
  await wakeup.sleep(300, never, clock);
  t.equal(clock.time, 300, 'woken before it began: no sleep');
  await wakeup.sleep(300, never, clock);
  t.equal(clock.time, 600, 'the wake was used up');
});

t.test('the system clock: a sleep ends at once when its signal aborts, and never rejects', async (t) => {
  const stop = new AbortController();
  const slept = systemClock.sleep(3_600_000, stop.signal);
  stop.abort();
  await t.resolves(slept);
  await t.resolves(systemClock.sleep(3_600_000, stop.signal), 'already aborted');
  t.type(systemClock.now(), 'number');
});
