import preset from '../../jest.preset.js';

export default { ...preset, displayName: 'signatures', rootDir: import.meta.dirname };
