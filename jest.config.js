/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  // The VM end-to-end (test/e2e) runs only when asked: CDKTF_KUBEADM_E2E=1.
  testPathIgnorePatterns: ["/node_modules/", ...(process.env.CDKTF_KUBEADM_E2E ? [] : ["/test/e2e/"])],
  transform: {
    // isolatedModules: type checking is done once by `tsc --noEmit` in `npm test`; per-file
    // type checking in ts-jest would load the provider typings for every test file.
    "^.+\\.ts$": ["ts-jest", { isolatedModules: true, diagnostics: false }],
  },
  testTimeout: 120000,
};
