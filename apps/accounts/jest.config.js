import preset from '../../jest.preset.js';

export default { ...preset, displayName: 'accounts', rootDir: import.meta.dirname };
