import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigText } from '../config/load';
import { fieldDocs } from '../client/field-docs';
import { rowsRules } from '../tasks/rows-rules';
import { z } from 'zod';
import { configWarnings } from '../config/warnings';
import { readmeRulesText } from './rows-rules-support';

/** `rows.rules` at `caretaker validate`: what a config may say, and the errors (file, line, path) for what it may not. */

const config = (rules: string) => `tasks:
  - id: jobs
    type: rows.rules
    config:
      rules:
${rules}`;

function problems(text: string): string[] {
  try {
    parseConfigText(text, 'maintenance.yaml', {});
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('rows.rules config', () => {
  it('accepts every action, relations, cases and every kind of value', () => {
    const cfg = parseConfigText(
      config(`        - name: release
          table: que_jobs
          where: "locked_at < now() - interval '4 hours'"
          update: { locked_at: null, locked_by: null, attempts: 0, expired: false, note: { value: retryable } }
        - name: unused-queues
          table: queues
          unreferenced_by: [ { table: jobs, column: queue_id } ]
          delete: {}
        - name: archive
          table: runs
          where: "true"
          archive: { table: runs_archive }
        - name: rescue
          table: jobs
          where: "state = 'running'"
          cases:
            - when: "cancel_requested_at is not null"
              counter: cancelled
              update: { state: "'cancelled'" }
            - when: "attempt < max_attempts"
              update: { state: "'retryable'" }
            - report: {}`),
      'maintenance.yaml',
      {},
    );
    const rules = (cfg.tasks[0]!.config as { rules: { key: string; update?: Record<string, unknown> }[] }).rules;
    expect(rules[0]!.key).toBe('id');
    expect(rules[0]!.update).toEqual({ locked_at: null, locked_by: null, attempts: 0, expired: false, note: { value: 'retryable' } });
  });

  it('refuses a rule without an action, with two, an else case not last, and a repeated name, naming file and line', () => {
    expect(
      problems(
        config(`        - name: a
          table: jobs
          where: "true"
        - name: b
          table: jobs
          where: "true"
          delete: {}
          update: { state: "'x'" }
        - name: a
          table: jobs
          where: "true"
          cases:
            - update: { state: "'x'" }
            - when: "attempt > 1"
              delete: {}
        - name: d
          table: jobs
          report: {}`),
      ),
    ).toEqual([
      'maintenance.yaml:6: tasks[0].config.rules[0]: expected exactly one action of update, delete, archive, report, cases, start_workflow; got none',
      'maintenance.yaml:9: tasks[0].config.rules[1]: expected exactly one action of update, delete, archive, report, cases, start_workflow; got update and delete',
      'maintenance.yaml:14: tasks[0].config.rules[2].name: expected a unique rule name; "a" is also rules[0]',
      'maintenance.yaml:18: tasks[0].config.rules[2].cases[0]: expected "when" on every case but the last (a case without "when" is the else branch)',
      'maintenance.yaml:21: tasks[0].config.rules[3]: expected a condition: where, match, older_than, missing_parent or unreferenced_by (write where: "true" or match: {} for every row)',
    ]);
  });

  it('refuses references whose column counts differ from what they reference', () => {
    expect(
      problems(
        config(`        - name: a
          table: tasks
          missing_parent: { table: apps, column: [model, number] }
          delete: {}
        - name: b
          table: apps
          key: [model, number]
          unreferenced_by: [ { table: tasks, column: app_id } ]
          delete: {}`),
      ),
    ).toEqual([
      'maintenance.yaml:8: tasks[0].config.rules[0].missing_parent.parent_column: expected as many parent_column columns as column columns (2)',
      "maintenance.yaml:13: tasks[0].config.rules[1].unreferenced_by[0].column: expected as many columns as the rule's key has (2)",
    ]);
  });

  it('missing_parent takes column or value (SQL value expressions), not both, and one value per parent column', () => {
    expect(
      problems(
        config(`        - name: a
          table: procs
          missing_parent: { table: pg_locks, column: id, value: ["id::text"], parent_column: objid }
          delete: {}
        - name: b
          table: procs
          missing_parent: { table: pg_locks, parent_column: objid }
          delete: {}
        - name: c
          table: procs
          missing_parent: { table: pg_locks, value: ["'advisory'", "1"], parent_column: locktype }
          delete: {}
        - name: d
          table: procs
          missing_parent: { table: pg_locks, value: ["(select 1)"], parent_column: objid }
          delete: {}`),
      ),
    ).toEqual([
      "maintenance.yaml:8: tasks[0].config.rules[0].missing_parent: expected exactly one of column (the rule table's reference columns) and value (SQL value expressions); got both",
      "maintenance.yaml:12: tasks[0].config.rules[1].missing_parent: expected exactly one of column (the rule table's reference columns) and value (SQL value expressions); got neither",
      'maintenance.yaml:16: tasks[0].config.rules[2].missing_parent.parent_column: expected as many parent_column columns as value expressions (2)',
      expect.stringMatching(/^maintenance\.yaml:20: tasks\[0\]\.config\.rules\[3\]\.missing_parent\.value\[0\]: expected a SQL value expression: .*subquer/i),
    ]);
  });

  it('a child of a delete may reference other parent columns (parent_column) and be updated instead (update)', () => {
    const cfg = parseConfigText(
      config(`        - name: a
          table: procs
          where: "true"
          delete: { children: [ { table: jobs, column: locked_by, no_foreign_key: true, update: { locked_by: null, locked_at: "now()" } },
                                { table: runs, column: job_key, parent_column: job_key } ] }`),
      'maintenance.yaml',
      {},
    );
    const rule = (cfg.tasks[0]!.config as { rules: { delete: { children: unknown[] } }[] }).rules[0]!;
    expect(rule.delete.children).toEqual([
      { table: 'jobs', column: 'locked_by', no_foreign_key: true, update: { locked_by: null, locked_at: 'now()' } },
      { table: 'runs', column: 'job_key', parent_column: 'job_key', no_foreign_key: false },
    ]);
    expect(
      problems(
        config(`        - name: a
          table: procs
          where: "true"
          delete: { children: [ { table: jobs, column: locked_by, update: {} }, { table: jobs, column: locked_by, update: { x: "random(" } } ] }`),
      ),
    ).toEqual([
      'maintenance.yaml:9: tasks[0].config.rules[0].delete.children[0].update: expected at least one column to set, e.g. { locked_at: null }',
      expect.stringMatching(
        /^maintenance\.yaml:9: tasks\[0\]\.config\.rules\[0\]\.delete\.children\[1\]\.update\.x: expected a SQL value expression: not valid SQL/,
      ),
    ]);
    const fields = fieldDocs(z.toJSONSchema(rowsRules.configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>).map((d) => d.field);
    for (const f of ['rules[].missing_parent.value', 'rules[].delete.children[].parent_column', 'rules[].delete.children[].update'])
      expect(fields).toContain(f);
  });

  it('parent: the referenced row readable in where and archive.values; one parent_column per column', () => {
    const cfg = parseConfigText(
      config(`        - name: a
          table: claims
          parent: { table: processes, column: process_id }
          where: "parent.kind = 'Worker'"
          archive: { table: failed, columns: [job_id], values: { error: "'pruned at ' || parent.last_heartbeat_at::text", created_at: "now()", note: null } }`),
      'maintenance.yaml',
      {},
    );
    const rule = (cfg.tasks[0]!.config as { rules: { parent: unknown; archive: unknown }[] }).rules[0]!;
    expect(rule.parent).toEqual({ table: 'processes', column: 'process_id', parent_column: 'id' });
    expect(
      problems(
        config(`        - name: a
          table: claims
          parent: { table: processes, column: [a, b] }
          report: {}`),
      ),
    ).toEqual(['maintenance.yaml:8: tasks[0].config.rules[0].parent.parent_column: expected as many parent_column columns as column columns (2)']);
    const fields = fieldDocs(z.toJSONSchema(rowsRules.configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>).map((d) => d.field);
    for (const f of ['rules[].parent.table', 'rules[].parent.column', 'rules[].parent.parent_column', 'rules[].archive.values']) expect(fields).toContain(f);
  });

  it("refuses an update of the rule's own key", () => {
    expect(
      problems(
        config(`        - name: a
          table: jobs
          where: "true"
          update: { id: "id + 1000" }`),
      ),
    ).toEqual([
      "maintenance.yaml:9: tasks[0].config.rules[0].update: expected columns other than the rule's key (id): a rule does not change the key it walks",
    ]);
  });

  it('refuses an empty rule list and a case with two actions', () => {
    expect(problems(config('        []').replace('rules:\n', 'rules:'))).toEqual([
      'maintenance.yaml:5: tasks[0].config.rules: expected a list with length >= 1, got a list',
    ]);
    expect(
      problems(
        config(`        - name: a
          table: jobs
          where: "true"
          cases:
            - when: "true"
              delete: {}
              report: {}`),
      ),
    ).toEqual([
      'maintenance.yaml:10: tasks[0].config.rules[0].cases[0]: expected exactly one action of update, delete, report in a case; got delete and report',
    ]);
  });

  it('first_per and acquire: one row per slot, with archive, update or delete without children', () => {
    const rule = (extra: string) =>
      config(`        - name: unblock
          table: blocked
          where: "expires_at < now()"
${extra}`);
    const slot = `          acquire: { table: semaphores, column: ckey, parent_column: key, insert: { value: 0 }, when: "value > 0", update: { value: "value - 1" } }`;
    const cfg = parseConfigText(
      rule(`          first_per: { columns: ckey, order_by: [priority, job_id] }\n${slot}\n          archive: { table: ready }`),
      'maintenance.yaml',
      {},
    );
    const parsed = cfg.tasks[0]!.config as { rules: { first_per: unknown; acquire: unknown }[] };
    expect(parsed.rules[0]!.first_per).toEqual({ columns: 'ckey', order_by: ['priority', 'job_id'] });
    expect(parsed.rules[0]!.acquire).toEqual({
      table: 'semaphores',
      column: 'ckey',
      parent_column: 'key',
      insert: { value: 0 },
      when: 'value > 0',
      update: { value: 'value - 1' },
    });
    const oneSlot = 'expected first_per: { columns: ckey } with acquire: one row per slot (two rows taking one slot in one statement would both act)';
    expect(problems(rule(`${slot}\n          archive: { table: ready }`))).toEqual([`maintenance.yaml:9: tasks[0].config.rules[0].acquire: ${oneSlot}`]);
    expect(problems(rule(`          first_per: { columns: [ckey, queue] }\n${slot}\n          delete: {}`))).toEqual([
      `maintenance.yaml:10: tasks[0].config.rules[0].acquire: ${oneSlot}`,
    ]);
    expect(
      problems(
        rule(
          `          first_per: { columns: ckey }\n          acquire: { table: s, column: ckey, parent_column: key, insert: { key: x }, when: "value > 0" }\n          delete: { children: [ { table: logs, column: blocked_id } ] }`,
        ),
      ),
    ).toEqual([
      'maintenance.yaml:10: tasks[0].config.rules[0].acquire: expected acquire with archive, update or delete without children',
      'maintenance.yaml:10: tasks[0].config.rules[0].acquire.when: expected update with when: what taking an existing slot writes',
      "maintenance.yaml:10: tasks[0].config.rules[0].acquire.insert: expected columns other than parent_column (key): it is the row's reference",
    ]);
  });

  it('caretaker tasks lists every field of a rule and of a case', () => {
    const fields = fieldDocs(z.toJSONSchema(rowsRules.configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>).map((d) => d.field);
    for (const f of [
      'rules[].name',
      'rules[].table',
      'rules[].key',
      'rules[].where',
      'rules[].missing_parent.table',
      'rules[].missing_parent.column',
      'rules[].missing_parent.parent_column',
      'rules[].unreferenced_by[].table',
      'rules[].unreferenced_by[].column',
      'rules[].unreferenced_by[].parent_column',
      'rules[].counter',
      'rules[].update',
      'rules[].update.<name>.value',
      'rules[].delete.children[].table',
      'rules[].archive.table',
      'rules[].archive.columns',
      'rules[].report',
      'rules[].cases[].when',
      'rules[].cases[].counter',
      'rules[].cases[].update',
      'rules[].cases[].delete.children[].column',
      'rules[].cases[].report',
    ]) {
      expect(fields).toContain(f);
    }
  });

  it("validate names the rules that read what an earlier rule changes (README's Rules configs)", () => {
    const cfg = parseConfigText(readmeRulesText(), 'rules.yaml', {});
    expect(cfg.tasks.map((t) => t.type)).toEqual(Array(6).fill('rows.rules'));
    expect(configWarnings(cfg)).toEqual([
      'tasks[0] (failed-jobs).config.rules[1] (suspicious-imports) reads jobs, which rules[0] (delete-exhausted) changes first: the real run sees those changes, a dry run (each rule rolled back) cannot show them',
      'tasks[5] (orphans).config.rules[1] (tasks-of-missing-apps) reads generated_applications, which rules[0] (orphan-apps) changes first: the real run sees those changes, a dry run (each rule rolled back) cannot show them',
    ]);
  });
});
