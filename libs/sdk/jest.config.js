import preset from '../../jest.preset.js';

export default { ...preset, displayName: 'sdk', rootDir: import.meta.dirname };
