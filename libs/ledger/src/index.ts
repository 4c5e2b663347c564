export * from './account.js';
export * from './entry.js';
export * from './hold.js';
export * from './limits.js';
export * from './verify.js';
