export * from './config.js';
export * from './auth.js';
export * from './host.js';
export * from './app.js';
export * from './discovery.js';
export * from './snapshot.js';
export type { HostContext } from './context.js';
