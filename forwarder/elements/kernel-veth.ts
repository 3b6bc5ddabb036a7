import { Keys, MechanismType, type Connection, type Mechanism } from '../../proto/api.ts';
import { metaKey } from '../../sdk/chain/metadata.ts';
import { afterNextOrClose, undoThenClose } from '../../sdk/chain/rollback.ts';
import type { Ctx, Element } from '../../sdk/chain/types.ts';
import { NsmError } from '../../sdk/errors.ts';
import { removeEnd, type AdoptionTable } from '../dataplane/adoption.ts';
import type { NetnsLookup } from '../dataplane/netns-resolver.ts';
import { KernelError } from '../dataplane/kernel-error.ts';
import type { KernelRunner } from '../dataplane/runner.ts';
import { endOps } from '../dataplane/end.ts';
import { setLink } from '../dataplane/ops.ts';
import { createPair, endpointIfname } from '../dataplane/veth.ts';
import { clientMechanism, NEGOTIATED } from './negotiate.ts';

export interface VethState {
  clientIf: string;
  clientNetnsUrl: string;
  endpointIf: string;
  endpointNetnsUrl: string;
  /** The MTU both ends were given (0: the kernel's default). */
  mtu: number;
}

export const vethKey = metaKey<VethState>('kernel-veth.state');

/**
 * Same-node KERNEL↔KERNEL: one veth pair from the client's namespace straight into the endpoint's,
 * created after the endpoint answered (its namespace and the IP context come in the answer).
 * Ordering: create the pair and configure the endpoint end (one batch in the endpoint's
 * namespace), then configure the client end (in the client's): two kernel round trips. Each end
 * becomes what its side's mechanism asks for: a port of the bridge it names, or an interface of
 * its own (end.ts). A failure removes the pair and closes the endpoint's side. A refresh changes
 * nothing in the kernel, unless the endpoint answers with another MTU (both ends take it: a bridge
 * domain's smallest path shrank) or from another network namespace (the endpoint was recreated:
 * the old pair goes, a new one is made); Close removes the pair.
 */
export function kernelVeth(runner: KernelRunner, resolver: NetnsLookup, adoption?: AdoptionTable): Element {
  async function program(conn: Connection, state: VethState, clientMech: Mechanism): Promise<void> {
    const client = await resolver.resolve(state.clientNetnsUrl);
    const endpoint = await resolver.resolve(state.endpointNetnsUrl);
    if (client.key === endpoint.key) throw new NsmError('INVALID_ARGUMENT', 'client and endpoint are in the same network namespace; a veth pair needs two');
    const owner = adoption?.owner ?? '';
    const create = createPair(state.endpointIf, state.clientIf, client);
    const endpointEnd = endOps(state.endpointIf, conn.id, state.mtu, conn.context, 'endpoint', owner, conn.mechanism);
    const clientEnd = endOps(state.clientIf, conn.id, state.mtu, conn.context, 'client', owner, clientMech);
    try {
      // One batch in the endpoint's namespace creates the pair and configures the endpoint end.
      // Should the creation fail, the ops after it find no interface of that derived name (or a
      // leftover of this very connection), so they touch nothing else.
      await runner.run(endpoint, [create, ...endpointEnd]);
    } catch (err) {
      // An op after the creation failed: the pair exists and goes again.
      if (err instanceof KernelError && err.op !== create) {
        await removeEnd(runner, client, state.clientIf);
        throw err;
      }
      if (err instanceof NsmError && err.code === 'ALREADY_EXISTS') {
        throw new NsmError('ALREADY_EXISTS', `interface ${state.clientIf} already exists in the client's network namespace (or ${state.endpointIf} in the endpoint's): choose another interface name in the NS URL`, { cause: err });
      }
      throw err;
    }
    try {
      await runner.run(client, clientEnd);
    } catch (err) {
      await removeEnd(runner, client, state.clientIf);
      throw err;
    }
  }

  /** Both ends take an MTU the endpoint changed. */
  async function converge(ctx: Ctx, state: VethState, resp: Connection): Promise<void> {
    const mtu = resp.context?.MTU ?? 0;
    if (mtu <= 0 || mtu === state.mtu) return;
    const [endpoint, client] = await Promise.all([resolver.find(state.endpointNetnsUrl), resolver.find(state.clientNetnsUrl)]);
    if (endpoint) await runner.run(endpoint, [setLink({ name: state.endpointIf, mtu })]);
    if (client) await runner.run(client, [setLink({ name: state.clientIf, mtu })]);
    ctx.log.info({ element: 'kernel-veth', connId: resp.id, from: state.mtu, mtu }, 'the endpoint changed the MTU; both ends take it');
    state.mtu = mtu;
  }

  /** A refresh: converges the MTU, or drops the pair when the endpoint now answers from another namespace (true). */
  async function refreshed(ctx: Ctx, state: VethState, resp: Connection): Promise<boolean> {
    const endpointUrl = resp.mechanism?.parameters[Keys.inodeURL];
    if (!endpointUrl || endpointUrl === state.endpointNetnsUrl) {
      await converge(ctx, state, resp);
      return false;
    }
    ctx.log.info({ element: 'kernel-veth', connId: resp.id, was: state.endpointNetnsUrl, now: endpointUrl }, 'the endpoint answers from another network namespace; making the pair anew');
    const client = await resolver.find(state.clientNetnsUrl);
    if (client) await removeEnd(runner, client, state.clientIf);
    vethKey.delete(ctx);
    return true;
  }

  return {
    name: 'kernel-veth',
    needs: ['metadata', NEGOTIATED],
    async request(ctx, req, next) {
      const existing = vethKey.get(ctx);
      if (clientMechanism(ctx).type === MechanismType.MEMIF) return next.request(ctx, req);
      return afterNextOrClose(ctx, 'kernel-veth', next, req, async (resp) => {
        if (existing && !(await refreshed(ctx, existing, resp))) return resp;
        const clientMech = clientMechanism(ctx);
        const endpointUrl = resp.mechanism?.parameters[Keys.inodeURL];
        if (!endpointUrl) throw new NsmError('FAILED_PRECONDITION', `endpoint ${resp.networkServiceEndpointName} answered without a KERNEL inodeURL, so there is no namespace to connect to`);
        const started = performance.now();
        const state: VethState = {
          clientIf: clientMech.parameters[Keys.name],
          clientNetnsUrl: clientMech.parameters[Keys.inodeURL],
          endpointIf: endpointIfname(resp.id),
          endpointNetnsUrl: endpointUrl,
          mtu: resp.context?.MTU ?? 0,
        };
        const adopted = existing ? undefined : adoption?.claim(resp.id);
        if (adopted) ctx.log.info({ element: 'kernel-veth', connId: resp.id }, 'adopted the interfaces of a previous forwarder');
        else await program(resp, state, clientMech);
        vethKey.set(ctx, state);
        ctx.log.debug({ element: 'kernel-veth', connId: resp.id, durationMs: performance.now() - started }, 'veth pair ready');
        return resp;
      });
    },
    async close(ctx, conn, next) {
      const state = vethKey.delete(ctx);
      const ends = state ? undefined : adoption?.claim(conn.id);
      await undoThenClose(ctx, conn, next, async () => {
        if (state) {
          const client = await resolver.find(state.clientNetnsUrl);
          if (client) await removeEnd(runner, client, state.clientIf);
        }
        for (const e of ends ?? []) await removeEnd(runner, e.netns, e.ifname);
      });
    },
  };
}
