export * from './principal.js';
export * from './jwt.js';
export * from './mtls.js';
export * from './rate-limit.js';
export * from './redact.js';
export * from './ssrf-guard.js';
export * from './outbound-client.js';
