import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../config/load';
import { runTaskWorkflow, snapshot } from './fixtures';
import { makeTree } from './examples/harness';
import { useTaskEnvironment } from './support';

/**
 * Rules that depend on each other (issue 16, item 4): rule 1 deletes apps whose directory is gone,
 * rule 2 cancels the active tasks of apps without a row. Each rule selects when it starts, after the
 * rules before it committed, so rule 2 also cancels the tasks of the app rule 1 deleted, whether its
 * keys are read ahead or walked. On ThesisApp's schema (test/examples/thesisapp.sql).
 */
const env = useTaskEnvironment('dependent_rules');
let root = '';

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'caretaker-dependent-rules-'));
  // anthropic_claude/app2 has a row but no directory: the orphan app.
  await makeTree(root, { 'generated/apps/openai_gpt-4/app1/': {}, 'generated/apps/openai_gpt-4/app2/': {}, 'generated/apps/anthropic_claude/app1/': {} });
});
afterAll(() => rm(root, { recursive: true, force: true }));

beforeEach(async () => {
  await env.db.pool.query('drop table if exists analysis_tasks, generated_applications; drop type if exists analysis_status');
  await env.db.pool.query(await readFile(join(__dirname, 'examples', 'thesisapp.sql'), 'utf8'));
});

function task(config: Record<string, unknown>) {
  const rules = [
    {
      kind: 'missing_file',
      name: 'orphan apps',
      table: 'generated_applications',
      path_column: 'generated/apps/{model_slug}/app{app_number}',
      base_dir: root,
      action: 'delete',
    },
    {
      kind: 'missing_parent',
      name: 'orphan tasks',
      table: 'analysis_tasks',
      reference_column: ['target_model', 'target_app_number'],
      parent_table: 'generated_applications',
      parent_id_column: ['model_slug', 'app_number'],
      where: { status: ['PENDING', 'RUNNING'] },
      action: 'update',
      set: { status: 'CANCELLED', error_message: 'Target app no longer exists' },
    },
  ];
  const text = JSON.stringify({ tasks: [{ id: 'orphans', type: 'assets.detect_orphans', config: { batch_size: 2, max_fraction: 1, rules, ...config } }] });
  return parseConfigText(text, 'test.yaml', {}).tasks[0]!;
}

const tasks = () => snapshot(env.db.pool, 'analysis_tasks', 'id');
const apps = () => snapshot(env.db.pool, 'generated_applications', 'id');

describe('a rule that depends on an earlier rule of the task', () => {
  it.each([
    { name: 'read ahead (default)', config: {}, readAhead: 3 },
    { name: 'walked, read_ahead: 0', config: { read_ahead: 0 }, readAhead: 0 },
  ])('$name: the tasks of the app rule 1 deletes are cancelled too; no other row changes', async ({ config, readAhead }) => {
    const tasksBefore = await tasks();
    const appsBefore = await apps();

    const real = await runTaskWorkflow(env.temporal, task(config));
    expect(real.sets).toEqual({ 'orphan apps': { matched: 1, deleted: 1 }, 'orphan tasks': { matched: 3, updated: 3 } });
    expect(real.pace?.readAhead).toBe(readAhead);

    // Apps: only anthropic_claude/2 (no directory) is gone.
    expect(await apps()).toEqual(appsBefore.filter((a) => !(a.model_slug === 'anthropic_claude' && a.app_number === 2)));
    // Tasks: k01, k02 (ghost app) and k05 (the app rule 1 deleted) cancelled; every other row as it was.
    const cancelled = ['k01', 'k02', 'k05'];
    const after = await tasks();
    for (const [i, row] of tasksBefore.entries()) {
      if (cancelled.includes(row.task_id as string)) expect(after[i]).toEqual({ ...row, status: 'CANCELLED', error_message: 'Target app no longer exists' });
      else expect(after[i]).toEqual(row);
    }
  });

  it('a dry run judges each rule on the data as it is: it cannot show rule 2 depending on rule 1', async () => {
    const preview = await runTaskWorkflow(env.temporal, task({}), { dryRun: true });
    expect(preview.sets).toEqual({ 'orphan apps': { matched: 1, would_delete: 1 }, 'orphan tasks': { matched: 2, would_update: 2 } });
  });
});
