import { Keys } from '../../proto/api.ts';
import { defineCommand } from '../../sdk/cli.ts';
import { toNsmError } from '../../sdk/errors.ts';
import { connectionId, readConnection, removeConnection } from './client.ts';
import { nscEnv } from './env.ts';
import { watchForwarder } from './forwarder-monitor.ts';
import { keepAlive } from './keep-alive.ts';
import { KeptConnection } from './kept-connection.ts';
import { clientSetup } from './setup.ts';

export default defineCommand({
  summary: 'keep the pod\'s connections alive (refresh, heal) and close them on shutdown',
  env: nscEnv,
  async run(config) {
    const { urls, name, log, dial: d, claims } = clientSetup(config, 'keep', 'nsc');
    const stop = new AbortController();
    const kept = await Promise.all(urls.map(async (url, index) => {
      const saved = await readConnection(config.NSM_CONNECTIONS_DIR, url.ifname);
      const conn = saved?.id === connectionId(name, index) ? saved : undefined;
      // The kubelet gives the token to the container that asked for the resource (nsc init's);
      // this one reads it from the connection nsc init wrote, to heal with it.
      return new KeptConnection(url, index, conn, claims.tokens.get(index) ?? conn?.mechanism?.parameters[Keys.tokenID]);
    }));
    for (const k of kept) if (k.conn) log.info({ connId: k.conn.id, service: k.url.service }, 'adopting the connection nsc init made');
    const loops = [
      ...kept.map((k) => keepAlive(k, d, name, config.NSM_CONNECTIONS_DIR, config.NSM_REQUEST_TIMEOUT, log, stop.signal)),
      watchForwarder(d, name, kept, log, stop.signal),
    ];
    await new Promise<void>((resolve) => {
      process.once('SIGTERM', resolve);
      process.once('SIGINT', resolve);
    });
    stop.abort();
    await Promise.all(loops);
    await Promise.all(kept.map(async (k) => {
      if (!k.conn) return;
      try {
        await (await d.client()).close(k.conn, { timeoutMs: config.NSM_REQUEST_TIMEOUT });
        log.info({ connId: k.conn.id, service: k.url.service }, 'closed');
      } catch (err) {
        log.warn({ connId: k.conn.id, err: toNsmError(err).message }, 'close failed; the forwarder removes the connection when it expires');
      }
      await removeConnection(config.NSM_CONNECTIONS_DIR, k.url.ifname);
    }));
    d.reset();
    return 0;
  },
});
