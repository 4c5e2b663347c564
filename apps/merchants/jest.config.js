import preset from '../../jest.preset.js';

export default { ...preset, displayName: 'merchants', rootDir: import.meta.dirname, testTimeout: 60_000, maxWorkers: 1 };
