// Lint rules for the whole package. The import boundary rule keeps src/core free of
// projection, transport and cli code: the core is the record store and must stand alone.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'patient_data/', '.bench-*/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '**/projection/**',
                '**/transport/**',
                '**/services/**',
                '**/auth/**',
                '**/cache/**',
                '**/cli/**',
                '**/config/**',
                '**/runtime.js',
                '**/main.js',
              ],
              message: 'src/core must not import the layers above it: pass dependencies in.',
            },
          ],
        },
      ],
    },
  },
);
