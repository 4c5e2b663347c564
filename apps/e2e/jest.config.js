import preset from '../../jest.preset.js';

// End-to-end: the four services as real processes over real PostgreSQL and NATS.
export default {
  ...preset,
  displayName: 'e2e',
  rootDir: import.meta.dirname,
  testTimeout: 180_000,
  maxWorkers: 1,
};
