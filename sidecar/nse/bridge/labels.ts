/** The registration label naming a bridge endpoint's domain (NSM_BRIDGE_DOMAIN): the bridges that carry it for one service form one L2 domain. */
export const BRIDGE_DOMAIN_LABEL = 'networkservicemesh.io/bridge-domain';

/** The connection label of a bridge-to-bridge link, naming the bridge endpoint that asks for it. */
export const BRIDGE_PEER_LABEL = 'networkservicemesh.io/bridge-peer';
