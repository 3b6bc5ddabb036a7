import { createHash } from 'node:crypto';

const hashOf = (connId: string) => createHash('sha256').update(connId).digest('hex').slice(0, 11);

/** The two-port bridge that joins a connection's incoming and onward interfaces (ETHERNET payload). */
export const throughBridgeName = (connId: string) => `nsmt${hashOf(connId)}`;

/** This pod's end of the onward connection of incoming connection `connId`. */
export const onwardIfname = (connId: string) => `nsmo${hashOf(connId)}`;
