import { Connection } from '../../../proto/api.ts';
import { toNsmError } from '../../../sdk/errors.ts';
import type { Logger } from '../../../sdk/log.ts';
import type { Dialer } from '../../nsc/client.ts';
import type { OwnBridge } from './own-bridge.ts';
import { isLinkIfname } from './peer-link.ts';

const CLOSE_TIMEOUT_MS = 3000;

/** `nsm:<forwarder>:<connection id>`, the alias the forwarder gives every link it makes. */
function forwarderSegment(alias: string | undefined): { name: string; id: string } | undefined {
  const m = alias === undefined ? null : /^nsm:(.+):([^:]+)$/.exec(alias);
  return m ? { name: m[1], id: m[2] } : undefined;
}

/**
 * The links a previous run of this endpoint asked for (its ports named after peers): closed
 * through the forwarder, which removes both ends, before the domain asks for them again (this run
 * does not know the rest of their path, so it could not refresh them). A port the forwarder no
 * longer knows is deleted here. Returns how many there were.
 */
export async function closeLeftoverLinks(bridge: OwnBridge, dial: Dialer, me: string, log: Logger): Promise<number> {
  const leftovers = (await bridge.ports()).filter((p) => isLinkIfname(p.ifname));
  for (const port of leftovers) {
    const segment = forwarderSegment(port.ifalias);
    if (segment) {
      const id = `${me}-${port.ifname}`;
      const conn = Connection.fromPartial({ id, path: { index: 0, pathSegments: [{ name: me, id }, segment] } });
      try {
        await (await dial.client(CLOSE_TIMEOUT_MS)).close(conn, { timeoutMs: CLOSE_TIMEOUT_MS });
      } catch (err) {
        log.warn({ port: port.ifname, err: toNsmError(err).message }, 'the forwarder could not close a link of a previous run; deleting its port here');
      }
    }
    if ((await bridge.ports()).some((p) => p.ifname === port.ifname)) await bridge.deletePort(port.ifname);
  }
  if (leftovers.length > 0) log.info({ links: leftovers.length }, 'closed the links of a previous run of this endpoint; linking again');
  return leftovers.length;
}
