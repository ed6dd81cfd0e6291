export * from './pg.js';
export * from './test-host.js';
