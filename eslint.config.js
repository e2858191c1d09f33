import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'build/', 'deps/', 'node_modules/', 'prebuilds/', 'models/', '.venv/', 'bench-results/', 'test-results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly',
        setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly', performance: 'readonly',
        queueMicrotask: 'readonly', globalThis: 'readonly', Buffer: 'readonly', AbortController: 'readonly',
        AbortSignal: 'readonly', TextDecoder: 'readonly', TextEncoder: 'readonly', fetch: 'readonly',
        FinalizationRegistry: 'readonly', WeakRef: 'readonly', setImmediate: 'readonly', structuredClone: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The playground runs in the browser.
    files: ['ui/**/*.js'],
    languageOptions: {
      globals: {
        document: 'readonly', localStorage: 'readonly', navigator: 'readonly', matchMedia: 'readonly',
        requestAnimationFrame: 'readonly', cancelAnimationFrame: 'readonly', Option: 'readonly',
        TextDecoderStream: 'readonly',
      },
    },
  },
);
