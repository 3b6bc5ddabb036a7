export * from './types.ts';
export * from './vars.ts';
