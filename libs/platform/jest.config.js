import preset from '../../jest.preset.js';

export default { ...preset, displayName: 'platform', rootDir: import.meta.dirname };
