import type { ServerSurfaceCall } from '@grpc/grpc-js/build/src/server-call.js';
import { NsmError } from '../errors.ts';
import { ctxKey, newCtx, type Ctx } from '../chain/types.ts';
import type { Logger } from '../log.ts';
import type { UnixPeer } from '../unix-peer.ts';
import { unixPeerOf } from './unix-callers.ts';

export interface Peer {
  /** Transport address of the caller as grpc-js reports it. */
  address: string;
  /** DER of the client certificate when the call came over mutual TLS. */
  certificate?: Buffer;
  /**
   * The calling process when the call came over one of our unix sockets: its kernel credentials,
   * or null when they could not be read (such a caller is trusted with nothing).
   */
  unix?: UnixPeer | null;
}

export const peerKey = ctxKey<Peer>('grpc.peer');

/** A Ctx for one incoming call: aborted when the caller cancels or its deadline passes. */
export function callCtx(call: ServerSurfaceCall, log: Logger): { ctx: Ctx; done: () => void } {
  const controller = new AbortController();
  const onCancel = () => controller.abort(new NsmError('CANCELLED', 'the caller cancelled the call'));
  call.on('cancelled', onCancel);
  let timer: NodeJS.Timeout | undefined;
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  if (Number.isFinite(at)) {
    timer = setTimeout(() => controller.abort(new NsmError('DEADLINE_EXCEEDED', 'the caller\'s deadline passed')), Math.max(0, at - Date.now()));
  }
  const auth = call.getAuthContext?.();
  const address = call.getPeer();
  const peer: Peer = { address };
  const unix = unixPeerOf(address);
  if (unix !== undefined) peer.unix = unix;
  const cert = auth?.sslPeerCertificate;
  if (cert?.raw) peer.certificate = cert.raw;
  return {
    ctx: peerKey.with(newCtx(log, controller.signal), peer),
    done: () => {
      if (timer) clearTimeout(timer);
      call.removeListener('cancelled', onCancel);
    },
  };
}
