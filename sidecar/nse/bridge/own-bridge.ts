import { NsmError } from '../../../sdk/errors.ts';
import { ip, ipJson, IpError } from '../../../sdk/ip-command.ts';

export interface PinnedNeighbour {
  ip: string;
  mac: string;
}

export interface BridgePortInfo {
  ifname: string;
  ifalias?: string;
  isolated: boolean;
}

interface LinkRow {
  ifname: string;
  ifalias?: string;
  address?: string;
  linkinfo?: { info_kind?: string; info_slave_data?: { isolated?: boolean } };
}

interface NeighRow {
  dst: string;
  lladdr?: string;
}

const NET_ADMIN = 'a bridge endpoint creates and owns its bridge in its own pod, which needs the NET_ADMIN capability there (securityContext.capabilities.add: [NET_ADMIN])';

/** `ip` in this process's namespace; a refusal for want of privilege says which capability is missing. */
async function run(args: string[]): Promise<string> {
  try {
    return await ip(args);
  } catch (err) {
    if (err instanceof IpError && /Operation not permitted/.test(err.stderr)) throw new NsmError('PERMISSION_DENIED', `${err.message}: ${NET_ADMIN}`, { cause: err });
    throw err;
  }
}

/**
 * The endpoint's Linux bridge in its own network namespace, and the kernel state the endpoint keeps
 * on it: the bridge's MAC and address, and one permanent neighbour entry per client (its address
 * and MAC), which is how a restarted endpoint knows which addresses its clients hold. The ports
 * themselves are made by the forwarder.
 */
export class OwnBridge {
  readonly name: string;

  constructor(name: string) {
    this.name = name;
  }

  /**
   * Creates the bridge, or adopts the one a previous run of this endpoint left (with its ports), then
   * gives it its MAC (set by hand, so it does not follow the ports as they come and go) and its
   * address, and raises it. The MAC is set only when it differs: a change of address flushes the
   * neighbour entries, which hold what the restarted endpoint needs.
   */
  async ensure(address: string, mac: string): Promise<'created' | 'adopted'> {
    const found = ((await ipJson(['-d', 'link', 'show'])) as LinkRow[]).find((l) => l.ifname === this.name);
    if (found && found.linkinfo?.info_kind !== 'bridge') {
      throw new NsmError('FAILED_PRECONDITION', `NSM_BRIDGE_NAME=${this.name} names an interface of this pod that is not a bridge (${found.linkinfo?.info_kind ?? 'a device'}): choose another name`);
    }
    if (!found) await run(['link', 'add', 'name', this.name, 'type', 'bridge']);
    if (found?.address !== mac) await run(['link', 'set', 'dev', this.name, 'address', mac]);
    await run(['address', 'replace', address, 'dev', this.name]);
    await run(['link', 'set', 'dev', this.name, 'up']);
    return found ? 'adopted' : 'created';
  }

  async pin(n: PinnedNeighbour): Promise<void> {
    await run(['neigh', 'replace', n.ip, 'lladdr', n.mac, 'dev', this.name, 'nud', 'permanent']);
  }

  /** An entry that is already gone is fine. */
  async unpin(address: string): Promise<void> {
    try {
      await run(['neigh', 'del', address, 'dev', this.name]);
    } catch (err) {
      if (!(err instanceof IpError && /No such file|Cannot find/.test(err.stderr))) throw err;
    }
  }

  async pinned(): Promise<PinnedNeighbour[]> {
    const rows = (await ipJson(['-4', 'neigh', 'show', 'dev', this.name, 'nud', 'permanent'])) as NeighRow[];
    return rows.filter((r) => r.lladdr).map((r) => ({ ip: r.dst, mac: r.lladdr! }));
  }

  /** Deletes a port of this bridge (a leftover the forwarder no longer knows). */
  async deletePort(ifname: string): Promise<void> {
    await run(['link', 'del', 'dev', ifname]);
  }

  async ports(): Promise<BridgePortInfo[]> {
    const rows = (await ipJson(['-d', 'link', 'show', 'master', this.name])) as LinkRow[];
    return rows.map((r) => ({ ifname: r.ifname, ifalias: r.ifalias, isolated: r.linkinfo?.info_slave_data?.isolated === true }));
  }
}
