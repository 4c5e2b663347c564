import preset from '../../jest.preset.js';

export default { ...preset, displayName: 'chaos', rootDir: import.meta.dirname };
