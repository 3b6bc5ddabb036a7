import { statSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { NsmError } from '../../sdk/errors.ts';
import { helperPids } from '../../sdk/ip-command.ts';
import { parseInodeUrl, type NetnsInode } from '../../sdk/netns.ts';
import type { Netns } from './runner.ts';

const key = (i: NetnsInode) => `${i.dev}:${i.ino}`;

async function inodeOf(path: string): Promise<NetnsInode | undefined> {
  try {
    const s = await stat(path);
    return { dev: s.dev, ino: s.ino };
  } catch {
    return undefined;
  }
}

/** The check of a cached hit: one stat of a procfs or nsfs file, which never waits on a disk. */
function inodeOfNow(path: string): NetnsInode | undefined {
  try {
    const s = statSync(path, { throwIfNoEntry: false });
    return s && { dev: s.dev, ino: s.ino };
  } catch {
    return undefined; // the process is gone (ESRCH and the like)
  }
}

/**
 * Every namespace file a process or `ip netns` holds open: `/proc/<pid>/ns/net`, `/run/netns/*`.
 * The forwarder's own `ip` processes are left out: they keep a namespace only while it has work.
 */
export async function* netnsFiles(): AsyncGenerator<string> {
  for (const name of await readdir('/run/netns').catch(() => [] as string[])) yield `/run/netns/${name}`;
  for (const name of await readdir('/proc')) if (/^\d+$/.test(name) && !helperPids.has(Number(name))) yield `/proc/${name}/ns/net`;
}

/** What the kernel elements need from namespace lookup (tests give a fake). */
export interface NetnsLookup {
  resolve(url: string): Promise<Netns>;
  find(url: string): Promise<Netns | undefined>;
}

/**
 * Turns `inode://<dev>/<ino>` into a file that holds that namespace, by scanning the namespaces of
 * all processes (needs hostPID). Hits are cached and checked again on use, since a process may exit.
 */
export class NetnsResolver implements NetnsLookup {
  readonly #cache = new Map<string, string>();

  async resolve(url: string): Promise<Netns> {
    const want = parseInodeUrl(url);
    const k = key(want);
    const cached = this.#cache.get(k);
    if (cached) {
      const now = inodeOfNow(cached);
      if (now && key(now) === k) return { path: cached, key: k };
      this.#cache.delete(k);
    }
    for await (const path of netnsFiles()) {
      const i = await inodeOf(path);
      if (!i) continue;
      if (!this.#cache.has(key(i))) this.#cache.set(key(i), path);
      if (key(i) === k) return { path, key: k };
    }
    throw new NsmError('INVALID_ARGUMENT', `network namespace ${url} is not held by any process on this node: the pod is gone, or the request came from another node`);
  }

  /** Like resolve, but undefined when the namespace no longer exists. */
  async find(url: string): Promise<Netns | undefined> {
    try {
      return await this.resolve(url);
    } catch (err) {
      if (err instanceof NsmError && err.code === 'INVALID_ARGUMENT') return undefined;
      throw err;
    }
  }

  /** One file per distinct namespace on the node. */
  async all(): Promise<Netns[]> {
    const seen = new Map<string, Netns>();
    for await (const path of netnsFiles()) {
      const i = await inodeOf(path);
      if (i && !seen.has(key(i))) seen.set(key(i), { path, key: key(i) });
    }
    return [...seen.values()];
  }
}
