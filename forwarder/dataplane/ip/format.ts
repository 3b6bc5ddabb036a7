import { KernelError } from '../kernel-error.ts';
import { PORT_FLAG_WORDS, type KernelOp, type PortFlag } from '../kernel-op.ts';

/** A word of an `ip` command: a keyword, or the value of one of the op's fields. */
export type Word = string | { field: string; value: string };

const v = (field: string, value: string | number): Word => ({ field, value: String(value) });
const onOff = (b: boolean) => (b ? 'on' : 'off');
/** Where a created device goes (`netns` before `type`, as `ip link add` reads it). */
const into = (netns: string | undefined): Word[] => (netns ? ['netns', v('netns', netns)] : []);
const over = (underlay: string | undefined): Word[] => (underlay ? ['dev', v('underlay', underlay)] : []);

/**
 * The `ip` command (without `ip`) that carries out `op`. Every value follows a keyword that
 * names it (`link add name <name>`), so no value, whatever it spells, is read as a keyword.
 */
export function ipWords(op: KernelOp): Word[] {
  switch (op.op) {
    case 'add-veth':
      return ['link', 'add', 'name', v('name', op.name), 'type', 'veth', 'peer', 'name', v('peer', op.peer), 'netns', v('peerNetns', op.peerNetns)];
    case 'set-link': {
      const w: Word[] = ['link', 'set', 'dev', v('name', op.name)];
      if (op.alias !== undefined) w.push('alias', v('alias', op.alias));
      if (op.group !== undefined) w.push('group', v('group', op.group));
      if (op.mtu !== undefined) w.push('mtu', v('mtu', op.mtu));
      if (op.mac !== undefined) w.push('address', v('mac', op.mac));
      if (op.master === null) w.push('nomaster');
      else if (op.master !== undefined) w.push('master', v('master', op.master));
      if (op.up !== undefined) w.push(op.up ? 'up' : 'down');
      return w;
    }
    case 'add-address':
      return ['address', 'add', v('address', op.address), 'dev', v('name', op.name)];
    case 'replace-route':
      return ['route', 'replace', v('dst', op.dst), ...(op.via ? ['via', v('via', op.via)] : []), 'dev', v('name', op.name), ...(op.scopeLink ? ['scope', 'link'] : [])];
    case 'add-bridge': {
      const w: Word[] = ['link', 'add', 'name', v('name', op.name), 'type', 'bridge'];
      if (op.ageingSeconds !== undefined) w.push('ageing_time', v('ageingSeconds', Math.round(op.ageingSeconds * 100)));
      if (op.stp !== undefined) w.push('stp_state', op.stp ? '1' : '0');
      return w;
    }
    case 'set-bridge-port': {
      const flags = (Object.keys(PORT_FLAG_WORDS) as PortFlag[]).filter((f) => op[f] !== undefined).flatMap((f) => [PORT_FLAG_WORDS[f], onOff(op[f]!)]);
      return ['link', 'set', 'dev', v('name', op.name), 'type', 'bridge_slave', ...flags];
    }
    case 'move-link':
      return ['link', 'set', 'dev', v('name', op.name), 'netns', v('netns', op.netns), ...(op.newName ? ['name', v('newName', op.newName)] : [])];
    case 'rename-link':
      return ['link', 'set', 'dev', v('name', op.name), 'name', v('newName', op.newName)];
    case 'add-vxlan':
      return ['link', 'add', 'name', v('name', op.name), ...into(op.netns), 'type', 'vxlan', 'id', v('vni', op.vni), 'local', v('local', op.local), 'remote', v('remote', op.remote), 'dstport', v('dstPort', op.dstPort), ...over(op.underlay)];
    case 'add-gre':
      return ['link', 'add', 'name', v('name', op.name), ...into(op.netns), 'type', v('kind', op.kind), 'local', v('local', op.local), 'remote', v('remote', op.remote), 'key', v('key', op.key), ...over(op.underlay)];
    case 'delete-group':
      return ['link', 'del', 'group', v('group', op.group)];
    case 'delete-link':
      return ['link', 'del', 'dev', v('name', op.name)];
  }
}

/** What `ip -batch` reads in a line: whitespace splits words, quotes group them, `#` starts a comment, `\` continues the line. */
export const READ_BY_BATCH = /[\s"'#\\\x00-\x1f\x7f]/;

/**
 * The `ip -batch` line for `op`. A value the batch reader would interpret (see READ_BY_BATCH),
 * or an empty one, is refused with KernelError INVALID_ARGUMENT naming the op and the field, so
 * no value ever changes what the line means, or breaks the session it is written to.
 */
export function ipBatchLine(op: KernelOp): string {
  return ipWords(op).map((w) => {
    if (typeof w === 'string') return w;
    if (w.value === '' || READ_BY_BATCH.test(w.value)) throw KernelError.invalid(op, w.field, w.value, 'cannot be written in an ip batch line: it is empty or contains whitespace, a quote, "#", a backslash or a control character');
    return w.value;
  }).join(' ');
}
