import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createSecureContext } from 'node:tls';
import { NsmError } from '../sdk/errors.ts';

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
}

/** Reads and checks that key and certificate belong together; the error names the files. */
export async function readTlsMaterial(certFile: string, keyFile: string): Promise<TlsMaterial> {
  let cert: Buffer;
  let key: Buffer;
  try {
    [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
  } catch (err) {
    throw new NsmError('FAILED_PRECONDITION', `cannot read the serving certificate or key (NSM_CERT_FILE_PATH=${certFile}, NSM_KEY_FILE_PATH=${keyFile}): ${(err as Error).message}`);
  }
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new NsmError('FAILED_PRECONDITION', `${certFile} and ${keyFile} are not a usable certificate and key pair: ${(err as Error).message}`);
  }
  return { cert, key };
}

export interface TlsWatchOptions {
  debounceMs?: number;
  /** Also re-read on this interval, for file systems whose change events are unreliable. */
  pollMs?: number;
}

/**
 * Calls onChange with new material whenever the files' content changes. Directories are watched,
 * not files: Secret volumes swap a `..data` symlink, so the file inodes never change.
 * A half-written pair (key and certificate disagree) is reported through onError and retried on
 * the next event; the previous material stays in use.
 */
export function watchTlsFiles(
  certFile: string,
  keyFile: string,
  current: TlsMaterial,
  onChange: (m: TlsMaterial) => void,
  onError: (err: Error) => void,
  opts: TlsWatchOptions = {},
): () => void {
  let last = current;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const reload = async () => {
    try {
      const next = await readTlsMaterial(certFile, keyFile);
      if (closed || (next.cert.equals(last.cert) && next.key.equals(last.key))) return;
      last = next;
      onChange(next);
    } catch (err) {
      if (!closed) onError(err as Error);
    }
  };
  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(() => void reload(), opts.debounceMs ?? 100);
  };
  const watchers: FSWatcher[] = [...new Set([dirname(certFile), dirname(keyFile)])].map((dir) => {
    const w = watch(dir, { persistent: false }, schedule);
    w.on('error', (err) => onError(err));
    return w;
  });
  const poll = setInterval(() => void reload(), opts.pollMs ?? 60_000);
  poll.unref();
  return () => {
    closed = true;
    clearTimeout(timer);
    clearInterval(poll);
    for (const w of watchers) w.close();
  };
}
