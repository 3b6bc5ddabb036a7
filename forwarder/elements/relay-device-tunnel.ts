import { Cls } from '../../proto/api.ts';
import { afterNextOrClose } from '../../sdk/chain/rollback.ts';
import type { Element } from '../../sdk/chain/types.ts';
import { NsmError } from '../../sdk/errors.ts';
import { CLIENT_OFFERS, clientOffersKey } from './client-offers.ts';
import { NEGOTIATED, negotiation } from './negotiate.ts';

/**
 * Endpoint side for an endpoint that stands for an external device (the request came from the
 * client's forwarder on another node): this node builds nothing and stays out of the data path.
 * The endpoint is offered every tunnel the client's node offered, and its answer (checked by
 * endpoint-answer after this element), a tunnel from the client's node to the device, becomes the
 * mechanism the client's forwarder builds: the offer of that type, completed.
 */
export function relayDeviceTunnel(): Element {
  return {
    name: 'relay-device-tunnel',
    needs: [NEGOTIATED, CLIENT_OFFERS],
    async request(ctx, req, next) {
      const offers = clientOffersKey.get(ctx) ?? [];
      const outgoing = { ...req, mechanismPreferences: offers.filter((m) => m.cls === Cls.REMOTE) };
      return afterNextOrClose(ctx, 'relay-device-tunnel', next, outgoing, async (resp) => {
        const answer = resp.mechanism;
        const offer = answer && offers.find((m) => m.type === answer.type && m.cls === answer.cls);
        if (!answer || !offer) throw new NsmError('FAILED_PRECONDITION', `endpoint ${resp.networkServiceEndpointName} stands for an external device but answered with ${answer?.type ?? 'no mechanism'}, not one of the tunnels offered`);
        negotiation.fallBack(ctx, offers, offer);
        negotiation.complete(ctx, answer);
        return resp;
      });
    },
  };
}
