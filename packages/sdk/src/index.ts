export type * from './api-types.js';
export type * from './options.js';
export * from './client.js';
export * from './errors.js';
export { isTerminalEvent, resumableEventStream, type EventStreamConnector } from './event-stream.js';
export * from './sse.js';
export * from './webhooks.js';
