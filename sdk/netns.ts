import { statSync } from 'node:fs';
import { NsmError } from './errors.ts';

export interface NetnsInode {
  dev: number;
  ino: number;
}

/** `inode://<dev>/<ino>` of the network namespace this process runs in (upstream format). */
export function ownNetnsUrl(): string {
  const s = statSync('/proc/self/ns/net');
  return formatInodeUrl({ dev: s.dev, ino: s.ino });
}

export function formatInodeUrl(i: NetnsInode): string {
  return `inode://${i.dev}/${i.ino}`;
}

export function parseInodeUrl(url: string): NetnsInode {
  const m = /^inode:\/\/(\d+)\/(\d+)$/.exec(url);
  if (!m) throw new NsmError('INVALID_ARGUMENT', `network namespace ${JSON.stringify(url)} is not an inode URL: expected inode://<dev>/<ino> (stat of /proc/self/ns/net)`);
  return { dev: Number(m[1]), ino: Number(m[2]) };
}
