/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: {
    // isolatedModules: type checking is done once by `tsc --noEmit` in `npm test`; per-file
    // type checking in ts-jest would load the provider typings for every test file.
    "^.+\\.ts$": ["ts-jest", { isolatedModules: true, diagnostics: false }],
  },
  testTimeout: 120000,
};
