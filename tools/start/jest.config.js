import preset from '../../jest.preset.js';

export default { ...preset, displayName: 'start', rootDir: import.meta.dirname };
