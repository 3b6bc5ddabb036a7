/**
 * An OTLP/HTTP trace receiver that accepts every export and discards it, for bench:connect
 * --otlp: it listens on 127.0.0.1:<port> of the namespace it is started in and, on SIGTERM,
 * prints how many exports and spans it was sent.
 * Usage: node bench/otlp-sink.ts <port> <label>
 */
import { createServer } from 'node:http';

type Export = { resourceSpans?: Array<{ scopeSpans?: Array<{ spans?: unknown[] }> }> };

const [port, label] = [Number(process.argv[2]), process.argv[3] ?? 'otlp sink'];
let exports = 0;
let spans = 0;
let bytes = 0;
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    bytes += body.length;
    exports++;
    if (req.headers['content-type']?.includes('json')) {
      const e = JSON.parse(body.toString('utf8')) as Export;
      for (const r of e.resourceSpans ?? []) for (const s of r.scopeSpans ?? []) spans += s.spans?.length ?? 0;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
server.listen(port, '127.0.0.1', () => process.stdout.write('listening\n'));
process.once('SIGTERM', () => {
  process.stderr.write(`${label}: ${exports} exports, ${spans} spans, ${(bytes / 1024).toFixed(0)} KiB\n`);
  server.close();
  process.exit(0);
});
