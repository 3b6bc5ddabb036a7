/** Whether a registered URL is an endpoint on this node: a unix (or inode) socket; anything else is reached through another node. */
export const isSameNode = (url: string) => url.startsWith('unix:') || url.startsWith('inode:');
