import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { isNsmError } from '../../../sdk/errors.ts';
import { connectionDirName, MemifRendezvous } from '../../../forwarder/dataplane/memif-rendezvous.ts';
import { tempDir, type T } from '../../fixtures/netns.ts';

/** A listening unix socket standing in for the endpoint application's memif socket; it answers "hello". */
async function listen(t: T, path: string): Promise<Server> {
  const server = createServer((s) => s.end('hello'));
  await new Promise<void>((r) => server.listen(path, r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return server;
}

const greeting = (path: string) => new Promise<string>((resolve, reject) => {
  const s = createConnection(path);
  let got = '';
  s.on('data', (b) => (got += b.toString()));
  s.on('end', () => resolve(got));
  s.on('error', reject);
});

function setup(t: T) {
  const dir = tempDir(t, 'memif-rv');
  const epDir = join(dir, 'endpoint');
  mkdirSync(epDir);
  return { dir, epSocket: join(epDir, 'memif.sock'), rv: new MemifRendezvous(join(dir, 'memif')) };
}

t.test('a hard link to the endpoint socket in a private per-connection directory reaches the listener', async (t) => {
  const { dir, epSocket, rv } = setup(t);
  await listen(t, epSocket);
  const path = await rv.ensure('pod-a-0', epSocket, { uid: 1234, gid: 5678 });
  t.equal(path, join(dir, 'memif/pod-a-0/memif.sock'));
  t.equal(lstatSync(path).ino, lstatSync(epSocket).ino, 'same inode as the endpoint socket');
  const d = statSync(join(dir, 'memif/pod-a-0'));
  t.equal(d.mode & 0o777, 0o700);
  t.same([d.uid, d.gid], [1234, 5678], 'owned by the client');
  t.equal(statSync(join(dir, 'memif')).mode & 0o777, 0o711, 'the root directory is not listable');
  t.equal(await greeting(path), 'hello');
  t.equal(await rv.ensure('pod-a-0', epSocket, { uid: 1234, gid: 5678 }), path, 'ensure again is a no-op');
  await rv.remove('pod-a-0');
  t.notOk(existsSync(join(dir, 'memif/pod-a-0')), 'remove deletes the directory');
  t.ok(existsSync(epSocket), 'and never the endpoint socket');
  await rv.remove('pod-a-0');
});

t.test('without an owner only root reaches the socket', async (t) => {
  const { dir, epSocket, rv } = setup(t);
  await listen(t, epSocket);
  await rv.ensure('c', epSocket, {});
  const d = statSync(join(dir, 'memif/c'));
  t.same([d.uid, d.gid, d.mode & 0o777], [0, 0, 0o700]);
});

t.test('a re-created endpoint socket is linked again on the next ensure', async (t) => {
  const { epSocket, rv } = setup(t);
  const first = await listen(t, epSocket);
  const path = await rv.ensure('c', epSocket, {});
  await new Promise<void>((r) => first.close(() => r()));
  await listen(t, epSocket);
  t.not(lstatSync(path).ino, lstatSync(epSocket).ino, 'the old link points at the dead inode');
  await rv.ensure('c', epSocket, {});
  t.equal(lstatSync(path).ino, lstatSync(epSocket).ino);
  t.equal(await greeting(path), 'hello');
});

t.test('a missing socket or a plain file is FAILED_PRECONDITION naming the path', async (t) => {
  const { dir, epSocket, rv } = setup(t);
  const missing = await rv.ensure('c', epSocket, {}).catch((e: unknown) => e);
  t.ok(isNsmError(missing, 'FAILED_PRECONDITION'));
  t.match(String(missing), /memif socket .*endpoint\/memif\.sock does not exist: is the endpoint application listening/);
  writeFileSync(epSocket, '');
  t.match(String(await rv.ensure('c', epSocket, {}).catch((e: unknown) => e)), /is not a socket/);
  t.notOk(existsSync(join(dir, 'memif/c')), 'nothing created');
});

t.test('long or unusual connection ids become short hashed directory names', async (t) => {
  t.equal(connectionDirName('pod-0'), 'pod-0');
  t.match(connectionDirName('x'.repeat(60)), /^h-[0-9a-f]{24}$/);
  t.match(connectionDirName('../etc'), /^h-/);
  t.match(connectionDirName('.hidden'), /^h-/);
  t.equal(connectionDirName('../etc'), connectionDirName('../etc'), 'deterministic, so a restarted forwarder finds it');
});

t.test('leftovers of a previous forwarder are removed unless claimed again', async (t) => {
  const { dir, epSocket, rv } = setup(t);
  await listen(t, epSocket);
  await rv.ensure('kept', epSocket, {});
  await rv.ensure('stale', epSocket, {});
  const next = new MemifRendezvous(join(dir, 'memif'));
  t.equal(await next.scan(), 2);
  await next.ensure('kept', epSocket, {});
  await next.expire();
  t.same(readdirSync(join(dir, 'memif')), ['kept']);
});

const uidTestSkip = process.getuid?.() !== 0 ? 'needs root to create directories for other users' : spawnSync('setpriv', ['--version']).status !== 0 ? 'setpriv (util-linux) is not installed' : false;

t.test('only the owning uid can connect through the link', { skip: uidTestSkip }, async (t) => {
  const { dir, epSocket, rv } = setup(t);
  chmodSync(dir, 0o755);
  await listen(t, epSocket);
  chmodSync(epSocket, 0o777);
  const path = await rv.ensure('c', epSocket, { uid: 65534, gid: 65534 });
  const probe = (uid: number) => spawnSync('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', process.execPath, '-e',
    `require('net').createConnection(${JSON.stringify(path)}).on('connect', () => process.exit(0)).on('error', (e) => { console.log(e.code); process.exit(3); })`,
  ], { encoding: 'utf8', timeout: 10_000 });
  const owner = probe(65534);
  t.equal(owner.status, 0, `uid 65534 connects: ${owner.stdout}${owner.stderr}`);
  const other = probe(65533);
  t.equal(other.status, 3, 'another uid cannot');
  t.match(other.stdout, /EACCES/);
});
