import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = builtinModules.flatMap((m) => [m, `node:${m}`]);

/** An import of one of the project's top-level folders from any depth below another (`../x`, `../../x/y`). */
const folders = (...names) => `^(\\.\\./)+(${names.join('|')})(/|$)`;
/**
 * A boundary between layers: files in `files` may not import `names` (type imports included).
 * `warn` marks one the code does not keep yet (each listed in CHANGELOG), so lint shows it without failing.
 */
const boundary = (files, names, message, level = 'error') => ({
  files,
  rules: { '@typescript-eslint/no-restricted-imports': [level, { patterns: [{ regex: folders(...names), message }] }] },
});

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.caretaker/', 'bin/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: { allowDefaultProject: ['eslint.config.mjs', 'dev/*.mjs'] }, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { globals: { URL: 'readonly', console: 'readonly', process: 'readonly' } },
  },
  // Imports run one way (ARCHITECTURE.md): the catalog and config below the code that runs tasks.
  // core/** and client/** have blocks of their own below.
  boundary(
    ['tasks/**/*.ts'],
    ['activities', 'workflows', 'client', 'worker', 'dev'],
    'tasks/ is the catalog (schemas, defaults, names): no I/O, so it imports no code that runs tasks',
  ),
  boundary(
    ['config/**/*.ts'],
    ['activities', 'workflows', 'client', 'worker'],
    'config/ parses and validates: it may use core/ and tasks/ (the catalog), not the code that runs tasks',
  ),
  {
    // The SQL-text parser (tasks/sql-*.ts: PostgreSQL's grammar, no catalog) is the one part of tasks/ that activities/sql/ renders from.
    files: ['activities/sql/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(\\.\\./)+tasks(/(?!sql-)|$)',
              message: 'activities/sql/ renders SQL from resolved names and parsed references: it does not know the task catalog',
            },
          ],
        },
      ],
    },
  },
  {
    // Workflows run in Temporal's deterministic sandbox: no I/O, no Node builtins, no pg, and
    // activities only as types (samples-typescript activities-cancellation-heartbeating/.eslintrc.js).
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.map((name) => ({ name, message: 'workflows must be deterministic: do I/O in an activity' })),
            { name: 'pg', message: 'workflows must not touch the database: use an activity' },
            { name: 'zod', message: 'config is validated at the edge (client), not in workflows' },
          ],
          patterns: [
            {
              group: ['../activities', '../activities/*'],
              allowTypeImports: true,
              message: 'import activities as types only and call them through proxyActivities',
            },
            {
              group: ['../client', '../client/*', '../worker', '../worker/*', '../config', '../config/*', '../dev/*'],
              message: 'workflows may not import client, worker, config or dev code',
            },
            { group: ['../tasks', '../tasks/*'], allowTypeImports: true, message: 'import task config types only' },
            {
              group: ['@temporalio/client', '@temporalio/worker', '@temporalio/activity', '@temporalio/testing'],
              message: 'workflows may only use @temporalio/workflow',
            },
          ],
        },
      ],
    },
  },
  {
    // core/ is the contract every layer imports: pure, workflow-safe, and it imports nothing of the
    // project (only @temporalio/common, which the workflow bundle carries anyway).
    files: ['core/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.map((name) => ({ name, message: 'core is pure and workflow-safe: no Node builtins' })),
            { name: 'pg', message: 'core is pure: database code lives in activities/' },
            { name: 'zod', message: 'core has no dependencies: zod schemas live in config/ or tasks/' },
          ],
          patterns: [
            { group: ['../*', '!./*'], message: 'core imports nothing of the project: every layer imports core, never the other way' },
            {
              group: ['@temporalio/client', '@temporalio/worker', '@temporalio/activity', '@temporalio/workflow', '@temporalio/testing'],
              message: 'core may only use @temporalio/common (types of @temporalio/client as type imports)',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
  {
    // The CLI talks to Temporal and reads config; it never reaches into workflow or activity code.
    // Known exception, moved to worker/ by the layout move (issue 17): `caretaker check` runs activity code in the CLI process.
    files: ['client/**/*.ts'],
    ignores: ['worker/check-run.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/workflows', '**/workflows/*', '**/activities', '**/activities/*', '**/activities/**'],
              message: 'client may not import workflows/ or activities/: shared contract in core/, in-process runners in worker/',
            },
          ],
        },
      ],
    },
  },
);
