export * from './principal.js';
export * from './jwt.js';
export * from './mtls.js';
export * from './rate-limit.js';
export * from './redact.js';
export * from './vault-crypto.js';
export * from './tenant-redactors.js';
