import preset from '../../jest.preset.js';

export default { ...preset, displayName: 'devstack', rootDir: import.meta.dirname };
