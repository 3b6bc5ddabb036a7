// The host programs and kernel link types a command needs, checked at its start so a missing one
// stops it with one line that says what to install, instead of failing later in a way that reads
// as a networking bug.

import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';

export interface HostTool {
  command: string;
  /** The Debian package that installs it. */
  debianPackage: string;
  /** What the command uses it for, as the end of "needs X (for ...)". */
  usedFor: string;
}

export const IP: HostTool = { command: 'ip', debianPackage: 'iproute2', usedFor: 'network namespaces and links' };
export const PING: HostTool = { command: 'ping', debianPackage: 'iputils-ping', usedFor: 'checking each connection' };
export const OPENSSL: HostTool = { command: 'openssl', debianPackage: 'openssl', usedFor: 'the certificates of forwarder peering' };

/** Whether an executable file of that name is in one of PATH's directories. */
export function onPath(command: string, path = process.env.PATH ?? ''): boolean {
  return path.split(':').filter(Boolean).some((dir) => {
    const file = join(dir, command);
    try {
      accessSync(file, constants.X_OK);
      return statSync(file).isFile();
    } catch {
      return false;
    }
  });
}

/** The one line about the first tool that PATH lacks, or undefined when all are there. */
export function missingTool(who: string, tools: readonly HostTool[], path = process.env.PATH ?? ''): string | undefined {
  const missing = tools.find((t) => !onPath(t.command, path));
  if (!missing) return undefined;
  return `${who} needs ${missing.command} (${missing.usedFor}), which is not on PATH: install it with apt-get install ${missing.debianPackage}`;
}

/** The one line about a kernel link type that cannot be created, from a probe's answer. */
export function missingLinkType(who: string, type: string, reason: string | undefined, hint: string): string {
  return `${who} needs ${type} links, and this kernel cannot create them (${reason || 'no reason given'}): ${hint}`;
}

export function notRoot(who: string, hint: string): string | undefined {
  return process.getuid?.() === 0 ? undefined : `${who} needs root: ${hint}`;
}
