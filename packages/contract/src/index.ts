export * from './errors.js';
export * from './wire.js';
export * from './schemas.js';
export * from './packs.js';
export type * from './api-types.js';
export * from './validate.js';
export * from './openapi.js';
export * from './routes.js';
export * from './errors-doc.js';
