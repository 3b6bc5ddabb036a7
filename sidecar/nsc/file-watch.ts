import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** How often the file is read even without a change notice (a directory that cannot be watched, a missed event). */
const POLL_MS = 1000;

/**
 * Calls `changed` with the file's text (undefined while it cannot be read) at once, then whenever
 * it differs from what was last passed, until `signal` aborts. The kubelet replaces a downward API
 * file by swapping a symlink in its directory, so the directory is watched, and the file is read
 * again every POLL_MS besides. Calls never overlap, and come in the order the texts were read.
 * `known`: the text the caller has already acted on (no call for it).
 */
export async function watchFile(path: string, changed: (text: string | undefined) => Promise<void>, signal: AbortSignal, known?: string): Promise<void> {
  let last: string | undefined | null = known ?? null;
  let again = false;
  let running: Promise<void> | undefined;
  const check = (): void => {
    if (running) {
      again = true;
      return;
    }
    running = (async () => {
      do {
        again = false;
        const text = await readFile(path, 'utf8').catch(() => undefined);
        if (text !== last && !signal.aborted) {
          last = text;
          await changed(text);
        }
      } while (again && !signal.aborted);
    })().finally(() => (running = undefined));
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(path), { persistent: false }, check);
    watcher.on('error', () => watcher?.close());
  } catch {
    watcher = undefined; // polling alone
  }
  const timer = setInterval(check, POLL_MS);
  check();
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
  clearInterval(timer);
  watcher?.close();
  await running;
}
