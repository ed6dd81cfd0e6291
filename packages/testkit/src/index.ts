export * from './pg.js';
export * from './test-host.js';
export * from './jwks-issuer.js';
export * from './certs.js';
export * from './store-contract/records.js';
export * from './outbound-target.js';
export * from './pack-fixtures.js';
export * from './wasm-fixture.js';
