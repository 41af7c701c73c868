import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, type Activities } from '../activities';
import { withPlanInspector } from '../activities/engine/plan-capture';
import { plannedUnits } from '../activities/engine/plan';
import type { WorkUnit } from '../activities/engine/work-unit';
import { quoteIdent } from '../activities/sql/identifiers';
import { ConfigError, parseConfigText } from '../config/load';
import type { TaskConfig } from '../config/schema';
import { buildTaskInput } from '../config/task-input';
import type { TaskInput } from '../core/contract';
import { ensureDemoDatabase, seedDemoFiles } from '../dev/demo-db';
import { builtinCatalog } from '../tasks';
import { UNPLANNABLE } from '../tasks/plannable';
import { PoolRegistry } from '../worker/databases';
import { ADMIN_URL } from './support';

/**
 * What cannot be planned is declared once (tasks/plannable.ts): a task type declares the work of a
 * config (`TaskType.unplannable`, refused by `caretaker validate`), the units its activity builds
 * declare theirs (`WorkUnit.unplannable`, refused by the engine as `PlanNotSupported`). This walks
 * every task type of the catalog, the tasks of maintenance.yaml (one per type, against the demo
 * database) and the configs where a type can be both, and proves validate and the engine agree:
 * validate refuses exactly the configs the engine refuses, with the engine naming the same work.
 */

const WORKFLOW = { type: 'sync', task_queue: 'apps', id_prefix: 'sync-' };
/** Configs where the answer depends on the config, beside maintenance.yaml's one task per type. */
const VARIANTS = [
  { id: 'queue-by-workflow', type: 'extraction.queue_orphans', config: { table: 'assets', pending_status: 'queued', older_than: '30m', workflow: WORKFLOW } },
  {
    id: 'orphan-rows-only',
    type: 'assets.detect_orphans',
    config: {
      rules: [{ kind: 'missing_parent', name: 'orphans', table: 'assets', reference_column: 'sync_config_id', parent_table: 'sync_configs', action: 'report' }],
    },
  },
  {
    id: 'rules-delete',
    type: 'rows.rules',
    config: { rules: [{ name: 'old runs', table: 'job_runs', where: "updated_at < now() - interval '90 days'", delete: {} }] },
  },
  {
    id: 'rules-cases',
    type: 'rows.rules',
    config: {
      rules: [
        {
          name: 'stuck',
          table: 'job_runs',
          where: "status = 'running'",
          cases: [{ when: 'retry_count < 3', update: { status: { value: 'pending' } } }, { report: {} }],
        },
      ],
    },
  },
  {
    id: 'rules-start',
    type: 'rows.rules',
    config: {
      rules: [
        { name: 'old runs', table: 'job_runs', match: { status: 'failed' }, report: {} },
        { name: 'syncs', table: 'sync_configs', match: {}, start_workflow: WORKFLOW },
      ],
    },
  },
];

let dbName: string;
let files: string;
let pools: PoolRegistry;
let activities: Activities;
let tasks: TaskConfig[];

const admin = async <T>(work: (c: Client) => Promise<T>) => {
  const c = new Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end();
  }
};

beforeAll(async () => {
  dbName = `caretaker_test_plan_support_${process.pid}`;
  const url = new URL(ADMIN_URL);
  url.pathname = `/${dbName}`;
  files = mkdtempSync(join(tmpdir(), 'caretaker-plan-support-'));
  await ensureDemoDatabase(url.toString());
  await seedDemoFiles(files);
  const env = { CARETAKER_DEMO_FILES: files };
  const demo = parseConfigText(readFileSync(join(__dirname, '..', 'maintenance.yaml'), 'utf8'), 'maintenance.yaml', env).tasks;
  tasks = [...demo, ...parseConfigText(JSON.stringify({ tasks: VARIANTS }), 'variants.yaml', env).tasks];
  pools = new PoolRegistry(new Map([['default', url.toString()]]));
  activities = createActivities({ databases: pools });
}, 120_000);

afterAll(async () => {
  await pools?.close();
  await admin((c) => c.query(`drop database if exists ${quoteIdent(dbName)} with (force)`));
  rmSync(files, { recursive: true, force: true });
});

/** What `caretaker validate` says of the task with `approval:` of its own: the refusal, or undefined when it accepts. */
function validateRefusal(task: TaskConfig): string | undefined {
  const file = { tasks: [{ id: task.id, type: task.type, config: task.rawConfig, approval: { required: true } }] };
  try {
    parseConfigText(JSON.stringify(file), 'maintenance.yaml', {});
    return undefined;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const problem = err.problems.find((p) => p.includes('expected no approval'));
    if (problem === undefined) throw err;
    return problem;
  }
}

/** The units the task's own activity builds (under `caretaker check`'s inspector: nothing runs), then what the engine says of recording a plan of them. */
async function engineRefusal(task: TaskConfig): Promise<string | undefined> {
  const name = builtinCatalog.find(task.type)!.engineActivity! as keyof Activities;
  let units: readonly WorkUnit[] = [];
  const run = activities[name] as (input: TaskInput) => Promise<unknown>;
  await withPlanInspector(
    async (_session, u) => void (units = u),
    () => run(buildTaskInput(task)),
  );
  expect(units.length, `${task.id}: the activity built its units`).toBeGreaterThan(0);
  try {
    plannedUnits(task.type, units, { phase: 'record', planId: 'p' }, true);
    return undefined;
  } catch (err) {
    expect((err as { type?: string }).type).toBe('PlanNotSupported');
    return (err as Error).message;
  }
}

describe('what cannot be planned: validate and the engine read one declaration', () => {
  it('covers every task type of the catalog', () => {
    expect(new Set(tasks.map((t) => t.type))).toEqual(new Set(builtinCatalog.names().filter((n) => builtinCatalog.find(n)!.type === n)));
  });

  it('validate refuses approval exactly where the engine refuses a plan, and both name the same work', async () => {
    const seen: string[] = [];
    for (const task of tasks) {
      const declared = builtinCatalog.find(task.type)!.unplannable?.(task.config as never);
      const validate = validateRefusal(task);
      expect(validate === undefined, `${task.id}: validate follows the type's declaration`).toBe(declared === undefined);
      if (declared) expect(validate).toContain(UNPLANNABLE[declared.work]);
      if (builtinCatalog.find(task.type)!.engineActivity === undefined) {
        // Not run through the engine (health.report's probes): nothing could ever be planned.
        expect(declared, `${task.id}: a type the engine never runs declares its work`).toBeDefined();
        seen.push(`${task.id}: validate only`);
        continue;
      }
      const engine = await engineRefusal(task);
      expect(engine === undefined, `${task.id}: validate ${validate ?? 'accepts'}; engine ${engine ?? 'plans'}`).toBe(validate === undefined);
      if (declared) expect(engine).toContain(UNPLANNABLE[declared.work]);
      seen.push(`${task.id}: ${declared ? declared.work : 'plannable'}`);
    }
    // The walk saw both answers (a test that cannot fail is a defect).
    expect(seen).toEqual(
      expect.arrayContaining(['expired-runs: plannable', 'vacuum: vacuum', 'queue-by-workflow: workflow_starts', 'rules-start: workflow_starts']),
    );
  }, 120_000);
});
