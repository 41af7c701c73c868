import { readdirSync } from 'node:fs';
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

/** activities/ may not import the layers above it. */
const activitiesUp = {
  regex: folders('workflows', 'worker', 'client', 'dev'),
  message: 'activities/ may use core/, tasks/ and config/, not the code that runs or starts it',
};
const MACHINERY = ['sql', 'engine', 'rows', 'disk', 'check'];
/** The task domains: `activities/<domain>.ts` (every file there but index.ts). */
const domains = readdirSync(new URL('./activities/', import.meta.url))
  .filter((f) => f.endsWith('.ts') && f !== 'index.ts')
  .map((f) => f.slice(0, -3));
const within = (files, regex, message, extra = [], ignores) => ({
  files,
  ...(ignores ? { ignores } : {}),
  rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns: [activitiesUp, ...extra, ...(regex ? [{ regex, message }] : [])] }] },
});

/** One block per level of activities/ (flat config: each file gets exactly one of these rule settings). */
function activityLayers() {
  const leaf = 'task domains are leaves: a domain imports the machinery (sql/, engine/, rows/, disk/) and its own folder, never another domain';
  return [
    within(['activities/sql/**/*.ts'], '^\\.\\./(?!\\.\\./)', 'activities/sql/ is the bottom of activities/: it imports nothing else of it', [
      // The SQL-text parser (tasks/sql-*.ts: PostgreSQL's grammar, no catalog) is the one part of tasks/ that activities/sql/ renders from.
      {
        regex: '^(\\.\\./)+tasks(/(?!sql-)|$)',
        message: 'activities/sql/ renders SQL from resolved names and parsed references: it does not know the task catalog',
      },
    ]),
    within(
      ['activities/engine/**/*.ts'],
      '^\\.\\./(?!sql/|\\.\\./)',
      'the engine imports only activities/sql/ of activities/ (rows/, disk/, check/ and the task domains build on it)',
    ),
    within(
      ['activities/rows/**/*.ts', 'activities/disk/**/*.ts', 'activities/check/**/*.ts'],
      '^\\.\\./(?!(sql|engine)/|\\.\\./)',
      'row, file and check machinery import activities/sql/ and activities/engine/, not each other or a task domain',
    ),
    // rows/actions/: one strategy per row action, part of rows/ (row-sets.ts dispatches to them): rows/, sql/ and engine/ only.
    within(
      ['activities/rows/actions/**/*.ts'],
      '^\\.\\./\\.\\./(?!(sql|engine)/|\\.\\./)',
      'a row action (rows/actions/) imports rows/, activities/sql/ and activities/engine/, not disk/, check/ or a task domain',
    ),
    ...domains.map((d) => within([`activities/${d}.ts`], `^\\./(?!(sql|engine|rows|disk|${d})/)`, leaf)),
    within(
      ['activities/*/**/*.ts'],
      '^\\.\\./(?!(sql|engine|rows|disk)/|\\.\\./)',
      leaf,
      [],
      MACHINERY.map((m) => `activities/${m}/**`),
    ),
    within(['activities/index.ts']), // composes every domain
  ];
}

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
  // Imports run one way (ARCHITECTURE.md), down this list: core/ (own block below), tasks/,
  // config/, activities/ and workflows/ (own block below), worker/, client/, dev/.
  boundary(
    ['tasks/**/*.ts'],
    ['config', 'activities', 'workflows', 'client', 'worker', 'dev'],
    'tasks/ is the catalog (schemas, defaults, field builders): it imports only core/, and config/ imports it',
  ),
  boundary(
    ['config/**/*.ts'],
    ['activities', 'workflows', 'client', 'worker', 'dev'],
    'config/ parses and validates: it may use core/ and tasks/ (the catalog), not the code that runs tasks',
  ),
  boundary(['worker/**/*.ts'], ['client', 'dev'], 'worker/ composes activities and workflows; the CLI imports it, never the other way'),
  boundary(
    ['client/**/*.ts'],
    ['workflows', 'activities', 'dev'],
    'client may not import workflows/ or activities/: shared contract in core/, in-process runners (check, setup) in worker/',
  ),
  // activities/ in levels (ARCHITECTURE.md): sql/ (SQL building), engine/ (the batch loop, task lock, results,
  // deps), then rows/ (row machinery), disk/ (file machinery) and check/ (caretaker check's inspector), then the
  // task domains (`activities/<domain>.ts`, their own parts in `activities/<domain>/`): leaves that import the
  // machinery, never each other. `activities/index.ts` composes them.
  ...activityLayers(),
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
);
