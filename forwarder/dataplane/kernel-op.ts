/**
 * The kernel operations the forwarder performs: each one small change, named for what it does.
 * An op is plain data (it crosses to the netlink thread as it is) and runs in the namespace the
 * runner is given; fields that name another namespace hold a file that holds it
 * (`/proc/<pid>/ns/net`, `/run/netns/<name>`). Build ops with the constructors of ops.ts, which
 * check every field.
 */

/** A veth pair: `name` here, `peer` created directly in `peerNetns` (never moved). */
export interface AddVeth {
  op: 'add-veth';
  name: string;
  peer: string;
  peerNetns: string;
}

/** Link attributes; only the fields given change. */
export interface SetLink {
  op: 'set-link';
  name: string;
  alias?: string;
  group?: number;
  mtu?: number;
  /** `aa:bb:cc:dd:ee:ff` */
  mac?: string;
  /** The bridge to enslave the link to (in the same namespace); null releases it from its master. */
  master?: string | null;
  up?: boolean;
}

/** `address/length`. */
export interface AddAddress {
  op: 'add-address';
  name: string;
  address: string;
}

/** Adds or replaces the route to `dst` (`address/length`) out of `name`. */
export interface ReplaceRoute {
  op: 'replace-route';
  name: string;
  dst: string;
  /** Next hop, of the same family as dst. */
  via?: string;
  scopeLink?: boolean;
}

export interface AddBridge {
  op: 'add-bridge';
  name: string;
  /** How long a learnt MAC stays (kernel default 300 s); in hundredths of a second on the wire. */
  ageingSeconds?: number;
  stp?: boolean;
}

/** Flags of a port (a link enslaved to a bridge: set master first, in an op of its own). */
export interface SetBridgePort {
  op: 'set-bridge-port';
  name: string;
  isolated?: boolean;
  learning?: boolean;
  unicastFlood?: boolean;
  multicastFlood?: boolean;
  broadcastFlood?: boolean;
  neighSuppress?: boolean;
  hairpin?: boolean;
}

/** Moves a link to another namespace, renaming it on the way when `newName` is given (device pools). */
export interface MoveLink {
  op: 'move-link';
  name: string;
  netns: string;
  newName?: string;
}

/** Renames a link in its namespace (a pool device that came back under another name). Linux before 6.2 refuses while it is up. */
export interface RenameLink {
  op: 'rename-link';
  name: string;
  newName: string;
}

/**
 * A VXLAN device created directly in `netns` (default: the runner's namespace), with its UDP
 * socket and `underlay` device in the runner's namespace.
 */
export interface AddVxlan {
  op: 'add-vxlan';
  name: string;
  netns?: string;
  vni: number;
  local: string;
  remote: string;
  dstPort: number;
  underlay?: string;
}

/** A GRE tunnel (`gretap` carries Ethernet, `gre` IP), placed as AddVxlan is. */
export interface AddGre {
  op: 'add-gre';
  kind: 'gre' | 'gretap';
  name: string;
  netns?: string;
  local: string;
  remote: string;
  key: number;
  underlay?: string;
}

/** Deletes every link of a group at once (one kernel call however many). */
export interface DeleteGroup {
  op: 'delete-group';
  group: number;
}

export interface DeleteLink {
  op: 'delete-link';
  name: string;
}

export type KernelOp = AddVeth | SetLink | AddAddress | ReplaceRoute | AddBridge | SetBridgePort | MoveLink | RenameLink | AddVxlan | AddGre | DeleteGroup | DeleteLink;
export type OpName = KernelOp['op'];

const onOff = (b: boolean) => (b ? 'on' : 'off');
const into = (netns: string | undefined) => (netns ? ` into ${netns}` : '');

/** What each settable flag of a bridge port is called in messages (iproute2's words). */
export const PORT_FLAG_WORDS = {
  isolated: 'isolated',
  learning: 'learning',
  unicastFlood: 'flood',
  multicastFlood: 'mcast_flood',
  broadcastFlood: 'bcast_flood',
  neighSuppress: 'neigh_suppress',
  hairpin: 'hairpin',
} as const;
export type PortFlag = keyof typeof PORT_FLAG_WORDS;

function settings(op: SetLink): string {
  const s: string[] = [];
  if (op.alias !== undefined) s.push(`alias ${op.alias}`);
  if (op.group !== undefined) s.push(`group ${op.group}`);
  if (op.mtu !== undefined) s.push(`mtu ${op.mtu}`);
  if (op.mac !== undefined) s.push(`mac ${op.mac}`);
  if (op.master !== undefined) s.push(op.master === null ? 'nomaster' : `master ${op.master}`);
  if (op.up !== undefined) s.push(op.up ? 'up' : 'down');
  return s.join(' ');
}

/** The op in a few words, for messages: `add-address 10.0.0.1/32 on nsm-1`. */
export function describeOp(op: KernelOp): string {
  switch (op.op) {
    case 'add-veth':
      return `add-veth ${op.name} peer ${op.peer} into ${op.peerNetns}`;
    case 'set-link':
      return `set-link ${op.name} ${settings(op)}`.trimEnd();
    case 'add-address':
      return `add-address ${op.address} on ${op.name}`;
    case 'replace-route':
      return `replace-route ${op.dst}${op.via ? ` via ${op.via}` : ''} on ${op.name}${op.scopeLink ? ' scope link' : ''}`;
    case 'add-bridge':
      return `add-bridge ${op.name}`;
    case 'set-bridge-port': {
      const flags = (Object.keys(PORT_FLAG_WORDS) as PortFlag[]).filter((f) => op[f] !== undefined).map((f) => `${PORT_FLAG_WORDS[f]} ${onOff(op[f]!)}`);
      return `set-bridge-port ${op.name} ${flags.join(' ')}`.trimEnd();
    }
    case 'move-link':
      return `move-link ${op.name} to ${op.netns}${op.newName ? ` as ${op.newName}` : ''}`;
    case 'rename-link':
      return `rename-link ${op.name} to ${op.newName}`;
    case 'add-vxlan':
      return `add-vxlan ${op.name}${into(op.netns)} vni ${op.vni} ${op.local} to ${op.remote} port ${op.dstPort}`;
    case 'add-gre':
      return `add-gre ${op.name}${into(op.netns)} ${op.kind} key ${op.key} ${op.local} to ${op.remote}`;
    case 'delete-group':
      return `delete-group ${op.group}`;
    case 'delete-link':
      return `delete-link ${op.name}`;
  }
}
