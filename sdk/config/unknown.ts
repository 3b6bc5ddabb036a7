import type { Schema } from './types.ts';

/**
 * Variables every nsm process may be given that are no command's setting of its own: the
 * sandbox's (it passes its environment on to the processes it starts).
 */
export const SHARED_VARIABLES: readonly string[] = ['NSM_SANDBOX_DIR', 'NSM_SANDBOX_NETNS_PREFIX'];

function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length];
}

/** The setting a mistyped name most likely meant: the closest by edit distance, if close enough. */
export function closestSetting(name: string, schema: Schema): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const candidate of Object.keys(schema)) {
    const d = distance(name, candidate);
    if (!best || d < best.d) best = { name: candidate, d };
  }
  return best && best.d <= Math.max(2, Math.floor(name.length / 5)) ? best.name : undefined;
}

/**
 * One line for each `NSM_` variable of `env` that is not a setting of the command (nor shared),
 * naming the closest setting: a mistyped variable is otherwise silently ignored.
 */
export function unknownSettingWarnings(command: string, schema: Schema, env: NodeJS.ProcessEnv, shared: readonly string[] = SHARED_VARIABLES): string[] {
  return Object.keys(env)
    .filter((k) => k.startsWith('NSM_') && !(k in schema) && !shared.includes(k))
    .sort()
    .map((k) => {
      const near = closestSetting(k, schema);
      return `${k} is not a setting of nsm ${command}${near ? `; did you mean ${near}?` : ` (nsm ${command} --help lists them)`}`;
    });
}
