export * from './errors.js';
export * from './events.js';
export * from './ids.js';
export * from './messages.js';
export * from './money.js';
export * from './subjects.js';
export * from './wire.js';
