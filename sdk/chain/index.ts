export * from './types.ts';
export * from './chain.ts';
export * from './begin.ts';
export * from './metadata.ts';
export * from './rollback.ts';
export * from './serialize.ts';
export { traced } from './trace.ts';
