import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nativeImports = {
  patterns: [
    { group: ['node:*'], message: 'edge/ and shared/ run in workerd: no node: built-ins (see DESIGN.md, Rooms).' },
    {
      group: ['node-llama-cpp', 'onnxruntime-node', 'undici', 'fs', 'path', 'os', 'child_process'],
      message: 'Native and Node-only packages belong in runner/.',
    },
  ],
};

export default tseslint.config(
  { ignores: ['node_modules/', 'data/', '.wrangler/', 'dist/', 'coverage/', '.tmp/', 'drizzle/migrations/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['edge/**/*.ts', 'shared/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: { 'no-restricted-imports': ['error', nativeImports] },
  },
);
