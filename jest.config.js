/**
 * `npm test` runs both projects in one process (two cores): pure unit tests, and integration
 * tests (`*.int.spec.ts`, `e2e/`) that share one broker and one database per run.
 */
const swc = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2022',
    keepClassNames: true,
  },
  module: { type: 'commonjs' },
  sourceMaps: 'inline',
};

/**
 * ES-module-only packages: Node loads them itself (`require` of ES modules), but Jest's module
 * system needs them compiled to CommonJS.
 */
const ESM_PACKAGES = ['intl-messageformat', '@formatjs'];

const common = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest', swc], '^.+\\.js$': ['@swc/jest', { ...swc, jsc: { ...swc.jsc, parser: { syntax: 'ecmascript' } } }] },
  transformIgnorePatterns: [`/node_modules/(?!(${ESM_PACKAGES.join('|')})/)`],
  setupFiles: ['reflect-metadata'],
};

/** @type {import('jest').Config} */
module.exports = {
  testTimeout: 120_000,
  // Tests run in Jest's own process (--runInBand): one handle a test failed to close (a kafkajs
  // client reconnecting to the stopped broker, say) would keep CI waiting past its limit after
  // every test has passed. Results are written before the exit.
  forceExit: true,
  projects: [
    {
      ...common,
      displayName: 'unit',
      roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/tools'],
      testMatch: ['**/*.spec.ts'],
      testPathIgnorePatterns: ['\\.int\\.spec\\.ts$', '/node_modules/'],
    },
    {
      ...common,
      displayName: 'integration',
      roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/tools', '<rootDir>/e2e'],
      testMatch: ['**/*.int.spec.ts', '<rootDir>/e2e/**/*.spec.ts'],
      globalSetup: '<rootDir>/tools/jest/global-setup.ts',
      globalTeardown: '<rootDir>/tools/jest/global-teardown.ts',
    },
  ],
};
