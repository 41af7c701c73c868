import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigText } from '../config/load';
import { configWarnings } from '../config/warnings';

/**
 * Which tasks can run with `approval:`: a plan freezes table rows picked by key, so VACUUM, files,
 * procedures, counters, workflow starts and read-only probes cannot be approved. Said when the
 * config is loaded (`caretaker validate`), not at 3 a.m. as a run's `PlanNotSupported`.
 */

const VACUUM = { id: 'vacuum', type: 'db.vacuum', config: { tables: ['runs'] } };
const PURGE = { id: 'purge', type: 'runs.cleanup_expired', config: { table: 'runs', retention_days: 30 } };
const QUEUE = { id: 'queue', type: 'extraction.queue_orphans', config: { table: 'extractions', older_than: '1h' } };

const parse = (file: Record<string, unknown>) => parseConfigText(JSON.stringify(file), 'maintenance.yaml', {});

function problems(file: Record<string, unknown>): string[] {
  try {
    parse(file);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('approval on tasks that cannot be planned', () => {
  it("refuses a task's own approval, naming the task, the type and why", () => {
    const found = problems({ tasks: [{ ...VACUUM, approval: { required: true } }] });
    expect(found.join('\n')).toMatch(/tasks\[0\]\.approval.*expected no approval on a db\.vacuum task: VACUUM is not a change to rows/);
  });

  it('decides by the config where the type can be both: extraction re-queued by status can be approved, by workflow not', () => {
    expect(parse({ tasks: [{ ...QUEUE, approval: { required: true } }] }).tasks[0]!.approval).toMatchObject({ required: true });
    const byWorkflow = {
      ...QUEUE,
      config: { ...QUEUE.config, workflow: { type: 'extract', task_queue: 'extractions', id_prefix: 'extract-' } },
      approval: { required: true },
    };
    expect(problems({ tasks: [byWorkflow] }).join('\n')).toMatch(/extraction\.queue_orphans task: with workflow/);
  });

  it('applies a global approval only to the tasks that can be planned, and validate says which it skips', () => {
    const cfg = parse({ approval: { required: true }, tasks: [VACUUM, PURGE] });
    expect(cfg.tasks.map((t) => [t.id, t.approval?.required])).toEqual([
      ['vacuum', undefined],
      ['purge', true],
    ]);
    const warnings = configWarnings(cfg);
    expect(warnings).toEqual([expect.stringMatching(/^tasks\[0\] \(vacuum\): the global approval: does not apply to it/)]);
  });

  it('says nothing when there is no global approval, or the task turned it off itself', () => {
    expect(configWarnings(parse({ tasks: [VACUUM, PURGE] }))).toEqual([]);
    expect(configWarnings(parse({ approval: { required: true }, tasks: [{ ...VACUUM, approval: false }] }))).toEqual([]);
  });
});
