import preset from '../../jest.preset.js';

export default { ...preset, displayName: 'ledger', rootDir: import.meta.dirname };
