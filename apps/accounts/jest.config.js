import preset from '../../jest.preset.js';

// Integration tests share one database per file and real NATS: one file at a time.
export default { ...preset, displayName: 'accounts', rootDir: import.meta.dirname, testTimeout: 60_000, maxWorkers: 1 };
