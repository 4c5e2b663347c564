export * from './request-signing.js';
export * from './secrets.js';
export * from './webhooks.js';
