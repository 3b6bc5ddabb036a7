import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Strict, type-aware rules for the product; tests keep the type-aware safety rules that catch
 * real mistakes (floating promises outside tap's own calls, misused promises) without the ones
 * that fight fixtures built from JSON.
 */
export default tseslint.config(
  { ignores: ['proto/gen/**', 'node_modules/**', 'coverage/**', '.tap/**', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Chain elements are async so that a synchronous throw becomes a rejection.
      '@typescript-eslint/require-await': 'off',
      // `req.connection!`: the gRPC edge has validated that it is there.
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-confusing-void-expression': 'off',
      // Messages from the wire and from users' YAML are checked defensively beyond what their
      // generated or declared types promise (a map entry may be missing, a field null).
      '@typescript-eslint/no-unnecessary-condition': 'off',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true, allowRegExp: true }],
      // A switch over an op's kind counts once.
      'complexity': ['error', { max: 20, variant: 'modified' }],
      // Values from the wire are converted defensively whatever their declared type.
      '@typescript-eslint/no-unnecessary-type-conversion': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true }],
      // Rethrowing what was caught (unknown) is how rollbacks hand the original error on.
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
      // `Promise.withResolvers<void>()` is the idiom.
      '@typescript-eslint/no-invalid-void-type': 'off',
      // client-node's model classes are plain data on the wire; object literals are what it sends.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
      // The validators look for control characters on purpose.
      'no-control-regex': 'off',
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', package: '@tapjs/test', name: ['test', 'rejects', 'resolves', 'resolveMatch'] }] }],
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
      '@typescript-eslint/restrict-plus-operands': 'off',
      '@typescript-eslint/no-dynamic-delete': 'off',
      '@typescript-eslint/use-unknown-in-catch-callback-variable': 'off',
      'complexity': 'off',
    },
  },
);
