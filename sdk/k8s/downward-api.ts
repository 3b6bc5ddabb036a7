/**
 * The files of a downward API volume that project a map (metadata.annotations, metadata.labels):
 * one `key="value"` line per entry, keys sorted, each value quoted as Go's %q quotes it, which is
 * how the kubelet writes them (and rewrites them when the map changes).
 */

const SIMPLE_ESCAPES: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"', "'": "'" };
const QUOTED = { '\x07': 'a', '\b': 'b', '\f': 'f', '\n': 'n', '\r': 'r', '\t': 't', '\v': 'v', '\\': '\\', '"': '"' } as Record<string, string>;

/** A string as Go's strconv.Quote writes it. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const escaped = QUOTED[ch];
    const code = ch.codePointAt(0)!;
    if (escaped !== undefined) out += `\\${escaped}`;
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** The string a Go-quoted literal (`"..."`, as strconv.Quote writes it) stands for; throws naming what is wrong. */
export function goUnquote(quoted: string): string {
  if (quoted.length < 2 || !quoted.startsWith('"') || !quoted.endsWith('"')) throw new Error('the value is not a double-quoted string');
  const body = quoted.slice(1, -1);
  const bytes: number[] = [];
  const encoder = new TextEncoder();
  for (let i = 0; i < body.length; i++) {
    const ch = String.fromCodePoint(body.codePointAt(i)!);
    if (ch === '"') throw new Error(`an unescaped " at position ${i + 1}`);
    if (ch !== '\\') {
      bytes.push(...encoder.encode(ch));
      i += ch.length - 1;
      continue;
    }
    const e = body[++i];
    if (e === undefined) throw new Error('the value ends in a lone backslash');
    if (Object.hasOwn(SIMPLE_ESCAPES, e)) {
      bytes.push(SIMPLE_ESCAPES[e].charCodeAt(0));
    } else if (e === 'x' || e === 'u' || e === 'U') {
      const width = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hex = body.slice(i + 1, i + 1 + width);
      if (!new RegExp(`^[0-9a-fA-F]{${width}}$`).test(hex)) throw new Error(`\\${e} at position ${i} needs ${width} hex digits`);
      const value = parseInt(hex, 16);
      if (e === 'x') bytes.push(value);
      else bytes.push(...encoder.encode(String.fromCodePoint(value)));
      i += width;
    } else if (/[0-7]/.test(e)) {
      const oct = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(oct)) throw new Error(`an octal escape at position ${i} needs 3 digits`);
      bytes.push(parseInt(oct, 8));
      i += 2;
    } else {
      throw new Error(`unknown escape \\${e}`);
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/** A projected map file as the kubelet writes it. */
export function formatDownwardMap(map: Readonly<Record<string, string>>): string {
  return Object.keys(map).sort().map((k) => `${k}=${goQuote(map[k])}`).join('\n');
}

/** A projected map file's entries; throws naming the line that is not `key="value"`. */
export function parseDownwardMap(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`line ${i + 1} is not key="value"`);
    try {
      out[line.slice(0, eq)] = goUnquote(line.slice(eq + 1));
    } catch (err) {
      throw new Error(`line ${i + 1} (${line.slice(0, eq)}): ${(err as Error).message}`, { cause: err });
    }
  });
  return out;
}
