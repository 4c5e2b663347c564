import preset from '../../jest.preset.js';

export default { ...preset, displayName: 'merchants', rootDir: import.meta.dirname };
