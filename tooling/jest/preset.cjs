// Shared jest preset: TypeScript and the ESM-only @noble packages are compiled
// to CommonJS by swc, so jest runs without --experimental-vm-modules.
'use strict';
const path = require('node:path');

const repoRoot = path.resolve(__dirname, '../..');

/** @param {string} packageDir the package's directory (its jest.config's __dirname) */
module.exports = function preset(packageDir) {
  return {
    rootDir: packageDir,
    testEnvironment: 'node',
    testMatch: ['<rootDir>/test/**/*.test.ts'],
    setupFiles: [path.join(__dirname, 'setup.cjs')],
    transform: {
      '^.+\\.(t|j)sx?$': [
        require.resolve('@swc/jest'),
        {
          jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
          module: { type: 'commonjs' },
          sourceMaps: 'inline',
        },
      ],
    },
    // Compile the ESM-only dependencies; leave everything else in node_modules alone.
    transformIgnorePatterns: ['/node_modules/\\.pnpm/(?!(@noble|@stablelib)\\+)'],
    moduleNameMapper: {
      // Workspace packages resolve to their TypeScript sources, so tests need no build.
      '^@peernet/([a-z0-9-]+)$': path.join(repoRoot, 'packages/$1/src/index.ts'),
      '^peernet$': path.join(repoRoot, 'packages/peernet/src/index.ts'),
      // NodeNext sources import './x.js'; jest resolves './x' to the .ts file.
      '^(\\.{1,2}/.*)\\.js$': '$1',
    },
    testTimeout: 20000,
  };
};
