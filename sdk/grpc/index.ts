export * from './address.ts';
export * from './call-ctx.ts';
export * from './client.ts';
export * from './definitions.ts';
export * from './networkservice-client.ts';
export * from './networkservice-server.ts';
export * from './server.ts';
export * from './status.ts';
