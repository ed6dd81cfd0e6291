export * from './ports.js';
export * from './memory-store.js';
