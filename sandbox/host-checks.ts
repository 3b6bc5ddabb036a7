import { probeLinkTypes, type LinkType, type LinkTypeSupport } from '../forwarder/tunnels/probe.ts';
import { NsmError } from '../sdk/errors.ts';
import { IP, missingLinkType, missingTool, notRoot, OPENSSL, PING, type HostTool } from '../sdk/host-tools.ts';

const WHO = 'the sandbox';

export interface HostNeeds {
  /** Builds nodes (up, demo): certificates, pings, veth and bridge links; vxlan for more than one node. */
  buildsNodes?: boolean;
  nodes?: number;
}

type Probe = (types: readonly LinkType[]) => Promise<Partial<Record<LinkType, LinkTypeSupport>>>;

const MODULE_HINT: Record<string, string> = {
  veth: 'load the module with modprobe veth',
  bridge: 'load the module with modprobe bridge',
  vxlan: 'load the module with modprobe vxlan, or run a single node (--nodes 1)',
};

/**
 * The first thing this host lacks for the sandbox, as one line: root, then the programs on PATH,
 * then the kernel's link types (tried in a throwaway namespace). Undefined when nothing is missing.
 */
export async function hostProblem(needs: HostNeeds, path = process.env.PATH ?? '', probe: Probe = probeLinkTypes): Promise<string | undefined> {
  const root = notRoot(WHO, 'it creates network namespaces and runs the forwarder; run it with sudo (sudo npm start, or sudo npx nsm sandbox ...)');
  if (root) return root;
  const tools: HostTool[] = needs.buildsNodes ? [IP, PING, OPENSSL] : [IP];
  const tool = missingTool(WHO, tools, path);
  if (tool || !needs.buildsNodes) return tool;
  const types: LinkType[] = (needs.nodes ?? 1) > 1 ? ['veth', 'bridge', 'vxlan'] : ['veth', 'bridge'];
  const support = await probe(types);
  const lacking = types.find((t) => !support[t]?.available);
  return lacking ? missingLinkType(WHO, lacking, support[lacking]?.reason, MODULE_HINT[lacking] ?? 'load its kernel module') : undefined;
}

export async function requireHost(needs: HostNeeds): Promise<void> {
  const problem = await hostProblem(needs);
  if (problem) throw new NsmError('FAILED_PRECONDITION', problem);
}
