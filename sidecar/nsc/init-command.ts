import { MechanismType } from '../../proto/api.ts';
import { defineCommand } from '../../sdk/cli.ts';
import { NsmError, toNsmError } from '../../sdk/errors.ts';
import { connectionId, firstRequest, requestWithRetry, waitInterfaceUp, writeConnection } from './client.ts';
import { nscEnv } from './env.ts';
import { clientSetup } from './setup.ts';

export default defineCommand({
  summary: 'request every network service of the pod before the application starts',
  env: nscEnv,
  async run(config) {
    const { urls, name, log, dial: d, claims } = clientSetup(config, 'request', 'nsc-init');
    // A missing token is the pod's spec, which no retry changes.
    if (claims.problems.length > 0) throw new NsmError('FAILED_PRECONDITION', claims.problems.join('\n'));
    const deadline = Date.now() + config.NSM_INIT_TIMEOUT;
    const results = await Promise.all(urls.map(async (url, i) => {
      const shown = `${url.mechanism}://${url.service}/${url.ifname}`;
      try {
        const conn = await requestWithRetry(d, () => firstRequest(url, connectionId(name, i), name, claims.tokens.get(i)), {
          requestTimeoutMs: config.NSM_REQUEST_TIMEOUT,
          deadline,
          onFailure: (e, attempt) => log.warn({ service: url.service, attempt, code: e.code, err: e.message }, 'request failed; retrying'),
        });
        // A memif connection has no kernel interface: the application opens the socket in the connection file.
        if (conn.mechanism?.type !== MechanismType.MEMIF) await waitInterfaceUp(url.ifname, conn);
        await writeConnection(config.NSM_CONNECTIONS_DIR, url.ifname, conn);
        log.info({ connId: conn.id, service: url.service, ifname: url.ifname, addresses: conn.context?.ipContext?.srcIpAddrs }, 'connected');
        return undefined;
      } catch (err) {
        return `  ${shown}: ${toNsmError(err).message}`;
      }
    }));
    d.reset();
    const failed = results.filter((r): r is string => r !== undefined);
    if (failed.length === 0) return 0;
    process.stderr.write(`nsm nsc init: ${failed.length} of ${urls.length} network services not connected within ${config.NSM_INIT_TIMEOUT / 1000}s (NSM_INIT_TIMEOUT):\n${failed.join('\n')}\n`);
    return 1;
  },
});
