export * from './types.ts';
export * from './match.ts';
export * from './dir-backend.ts';
export * from './server.ts';
export * from './client.ts';
