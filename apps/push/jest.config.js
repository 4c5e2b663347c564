import preset from '../../jest.preset.js';

export default { ...preset, displayName: 'push', rootDir: import.meta.dirname };
