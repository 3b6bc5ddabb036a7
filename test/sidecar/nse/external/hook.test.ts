import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { isNsmError } from '../../../../sdk/errors.ts';
import { silentLogger } from '../../../../sdk/log.ts';
import { Hook } from '../../../../sidecar/nse/external/hook.ts';
import { tempDir, waitFor } from '../../../fixtures/netns.ts';

function script(dir: string, name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

const skip = process.platform !== 'linux' ? 'the hook runner is tested with /bin/sh on Linux' : false;

t.test('exit 0: done; the action is the argument, the input arrives on stdin', { skip }, async (t) => {
  const dir = tempDir(t, 'hook-ok');
  const out = join(dir, 'out');
  const hook = new Hook(script(dir, 'ok', `printf '%s ' "$1" > '${out}'; cat >> '${out}'`), 5000, silentLogger());
  await hook.run('apply', '{"id":"c-1"}\n');
  t.equal(readFileSync(out, 'utf8'), 'apply {"id":"c-1"}\n');
  await hook.run('delete', '{}');
  t.match(readFileSync(out, 'utf8'), /^delete /);
});

t.test('a non-zero exit rejects with FAILED_PRECONDITION quoting the last line of stderr', { skip }, async (t) => {
  const dir = tempDir(t, 'hook-fail');
  const hook = new Hook(script(dir, 'fail', 'echo "first" >&2; echo "no route to router1" >&2; echo "" >&2; exit 3'), 5000, silentLogger());
  const err = await hook.run('apply', '{}').catch((e: unknown) => e);
  t.ok(isNsmError(err, 'FAILED_PRECONDITION'), String(err));
  t.match((err as Error).message, /^hook .*\/fail apply exited with 3: no route to router1$/);
  const quiet = new Hook(script(dir, 'quiet', 'exit 1'), 5000, silentLogger());
  t.match(String(await quiet.run('delete', '{}').catch((e: unknown) => e)), /delete exited with 1 \(it wrote nothing to stderr\)/);
});

t.test('a hook that does not read its input still counts by its exit code', { skip }, async (t) => {
  const dir = tempDir(t, 'hook-noread');
  const hook = new Hook(script(dir, 'noread', 'exit 0'), 5000, silentLogger());
  await hook.run('apply', 'x'.repeat(1 << 20));
  t.pass('no EPIPE surfaced');
});

t.test('past the timeout the hook and what it started are killed; the error quotes it', { skip }, async (t) => {
  const dir = tempDir(t, 'hook-hang');
  const pids = join(dir, 'pids');
  const hook = new Hook(script(dir, 'hang', `echo $$ > '${pids}'; sleep 300 & echo $! >> '${pids}'; echo "still waiting for router1" >&2; wait`), 400, silentLogger());
  const err = await hook.run('apply', '{}').catch((e: unknown) => e);
  t.ok(isNsmError(err, 'DEADLINE_EXCEEDED'), String(err));
  t.match((err as Error).message, /apply ran past 0\.4s \(NSM_REQUEST_TIMEOUT\) and was killed; its last words: still waiting for router1/);
  const started = readFileSync(pids, 'utf8').trim().split('\n').map(Number);
  t.equal(started.length, 2);
  const gone = (pid: number) => !existsSync(`/proc/${pid}`) || / Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  await waitFor('the hook and its sleep to end', () => started.every(gone), 5000);
  t.pass('both processes ended');
});

t.test('an aborted request kills the hook', { skip }, async (t) => {
  const dir = tempDir(t, 'hook-abort');
  const hook = new Hook(script(dir, 'slow', 'exec sleep 300'), 60_000, silentLogger());
  const stop = new AbortController();
  const running = hook.run('apply', '{}', stop.signal).catch((e: unknown) => e);
  setTimeout(() => stop.abort(new Error('the caller\'s deadline passed')), 100);
  const err = await running;
  t.ok(isNsmError(err, 'CANCELLED'), String(err));
  t.match((err as Error).message, /was killed: the request it served was given up \(the caller's deadline passed\)/);
});

t.test('a hook that cannot be started says so', { skip }, async (t) => {
  const dir = tempDir(t, 'hook-missing');
  const err = await new Hook(join(dir, 'absent'), 1000, silentLogger()).run('apply', '{}').catch((e: unknown) => e);
  t.ok(isNsmError(err, 'FAILED_PRECONDITION'), String(err));
  t.match((err as Error).message, /could not be started \(ENOENT\)/);
});
