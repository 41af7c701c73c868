import { beforeEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../config/load';
import { realNames } from '../activities/engine/counters';
import { retentionEnforceConfig, retentionEnforceRules } from '../tasks/retention-enforce';
import { parseSqlText } from '../tasks/sql-text';
import { runTaskWorkflow, taskFailure } from './fixtures';
import { rulesTask } from './rows-rules-support';
import { useTaskEnvironment } from './support';

/**
 * retention.enforce `mark` to now() on a naive timestamp column that `timestamps.columns` gives a
 * zone of its own: the mark is the wall time in that zone (as retention wrote it before it was a
 * preset of rows.rules), the dry run reports the rows the real run marks, a marked row is left alone.
 */
const env = useTaskEnvironment('retention_mark_zone');

beforeEach(async () => {
  await env.db.pool.query(`drop schema if exists app cascade;
    create schema app;
    create table app.items (id int primary key, created_at timestamptz not null, deleted_at timestamp, gone_at timestamptz);
    insert into app.items values
      (1, now() - interval '40 days', null, null),
      (2, now() - interval '40 days', '2001-02-03 04:05:06', null),
      (3, now() - interval '2 days', null, null),
      (4, now() - interval '50 days', null, null);`);
});

const policy = { table: 'app.items', timestamp_column: 'created_at', older_than: '30d', action: 'mark', mark: { column: 'deleted_at' } };
const config = (timestamps: Record<string, unknown>, p: Record<string, unknown> = policy) => ({ batch_size: 1, max_fraction: 1, timestamps, policies: [p] });
function task(cfg: Record<string, unknown>) {
  return parseConfigText(JSON.stringify({ tasks: [{ id: 'retention', type: 'retention.enforce', config: cfg }] }), 'test.yaml', {}).tasks[0]!;
}
const rows = async () => (await env.db.pool.query(`select id, deleted_at::text as deleted_at, gone_at from app.items order by id`)).rows;
const clock = async () => (await env.db.pool.query<{ now: Date }>(`select clock_timestamp() as now`)).rows[0]!.now;

describe('mark to now() on a naive column with its own zone', () => {
  it('writes the wall time in the column zone, the dry run reports the rows the real run marks', async () => {
    const cfg = config({ zone: 'UTC', columns: { deleted_at: 'Asia/Tokyo' } });
    const before = await rows();
    const preview = await runTaskWorkflow(env.temporal, task(cfg), { dryRun: true });
    expect(await rows()).toEqual(before);
    const from = await clock();
    const real = await runTaskWorkflow(env.temporal, task(cfg));
    const to = await clock();
    expect(real.counts).toMatchObject({ matched: 2, marked: 2 });
    expect(realNames(preview.counts)).toEqual(real.counts);
    expect((preview.details as { id: string }[]).map((d) => d.id).sort()).toEqual(['1', '4']);
    expect((real.details as { id: string }[]).map((d) => d.id).sort()).toEqual(['1', '4']);
    // Read back as an instant in Tokyo: between the clock before and after the run (a session-zone mark is 9 hours off).
    const marked = await env.db.pool.query<{ id: number; at: Date }>(
      `select id, deleted_at at time zone 'Asia/Tokyo' as at from app.items where id in (1, 4) order by id`,
    );
    for (const { at } of marked.rows) {
      expect(at.getTime()).toBeGreaterThanOrEqual(from.getTime() - 1000);
      expect(at.getTime()).toBeLessThanOrEqual(to.getTime());
    }
    // Row 2 keeps its earlier mark, row 3 is too young.
    const after = await rows();
    expect(after.filter((r) => r.id === 2 || r.id === 3)).toEqual(before.filter((r) => r.id === 2 || r.id === 3));
  });

  it('its printed rules hold that text, which parses to the tree the preset built', () => {
    const { rules, texts } = retentionEnforceRules(retentionEnforceConfig.parse(config({ zone: 'UTC', columns: { deleted_at: 'Asia/Tokyo' } })));
    expect(rules[0]).toMatchObject({ where: '"deleted_at" IS NULL', update: { deleted_at: "now() AT TIME ZONE 'Asia/Tokyo'" } });
    for (const t of texts) expect(parseSqlText(t.source, t.kind)).toEqual(t);
  });

  it('a column zone equal to the task zone keeps now() and its IS NULL guard', () => {
    const { rules } = retentionEnforceRules(retentionEnforceConfig.parse(config({ zone: 'Asia/Tokyo', columns: { deleted_at: 'Asia/Tokyo' } })));
    expect(rules[0]).toMatchObject({ where: '"deleted_at" IS NULL', update: { deleted_at: 'now()' } });
  });

  it('a zone for a timestamptz mark column is refused, naming it, and nothing changes', async () => {
    const before = await rows();
    const cfg = config({ zone: 'UTC', columns: { gone_at: 'Asia/Tokyo' } }, { ...policy, mark: { column: 'gone_at' } });
    const failure = await taskFailure(runTaskWorkflow(env.temporal, task(cfg)));
    expect(failure.type).toBe('ConfigError');
    expect(failure.message).toContain('timestamps.columns gives gone_at the zone Asia/Tokyo, but app.items.gone_at is timestamp with time zone');
    expect(await rows()).toEqual(before);
  });
});

describe('rows.rules SQL text over a naive column with its own zone', () => {
  const rules = (where: string) =>
    rulesTask({ timestamps: { zone: 'UTC', columns: { deleted_at: 'Asia/Tokyo' } }, rules: [{ name: 'r', table: 'app.items', where, report: {} }] });

  it('a column only tested with IS NULL reads no time: the rule runs', async () => {
    const real = await runTaskWorkflow(env.temporal, rules('deleted_at IS NULL AND id > 2'));
    expect((real.details as { id: string }[]).map((d) => d.id).sort()).toEqual(['3', '4']);
  });

  it('the same column compared with a time anywhere in the text is still refused', async () => {
    const failure = await taskFailure(runTaskWorkflow(env.temporal, rules("deleted_at IS NULL OR deleted_at < now() - interval '1 day'")));
    expect(failure.type).toBe('ConfigError');
    expect(failure.message).toContain(
      'timestamps.columns gives deleted_at the zone Asia/Tokyo, but SQL text reads every naive timestamp in timestamps.zone (UTC)',
    );
  });
});

/**
 * rows.rules SQL text WRITTEN into a naive column that timestamps.columns gives a zone of its own:
 * the session's TimeZone is timestamps.zone, so now() would land as that zone's wall time. Text that
 * does not say the column's zone is refused wherever it writes (update, cases, archive values, a
 * child's update), before anything changes; `now() at time zone '<zone>'` is accepted and writes it.
 */
describe('rows.rules SQL text writing a naive column with its own zone', () => {
  const timestamps = { zone: 'UTC', columns: { deleted_at: 'Asia/Tokyo' } };
  const rulesOf = (rule: Record<string, unknown>) =>
    rulesTask({ batch_size: 1, timestamps, rules: [{ name: 'r', table: 'app.items', where: "created_at < now() - interval '30 days'", ...rule }] });
  const asked = "write the time in the column's zone, e.g. now() at time zone 'Asia/Tokyo'";

  it.each([
    ['update', { update: { deleted_at: 'now()' } }, 'update.deleted_at'],
    ['a case', { cases: [{ when: 'id > 0', update: { deleted_at: "now() - interval '1 day'" } }] }, 'cases[0].update.deleted_at'],
    ['archive values', { archive: { table: 'app.items_archive', columns: ['id'], values: { deleted_at: 'now()' } } }, 'archive.values.deleted_at'],
    [
      "a child's update",
      { delete: { children: [{ table: 'app.item_notes', column: 'item_id', update: { deleted_at: 'now()' } }] } },
      'delete: children[0].update.deleted_at',
    ],
    ['text at another zone', { update: { deleted_at: "now() at time zone 'UTC'" } }, 'update.deleted_at'],
    ['text reading a column', { update: { deleted_at: "(created_at + interval '1 day') at time zone 'Asia/Tokyo'" } }, 'update.deleted_at'],
  ])('%s: refused, naming the zone to write in, and nothing changes', async (_name, rule, at) => {
    await env.db.pool.query(`create table app.items_archive (id int primary key, deleted_at timestamp);
      create table app.item_notes (id int primary key, item_id int references app.items (id), deleted_at timestamp);
      insert into app.item_notes values (1, 1, null)`);
    const snapshot = async () => [
      await rows(),
      (await env.db.pool.query('select * from app.item_notes')).rows,
      (await env.db.pool.query('select * from app.items_archive')).rows,
    ];
    const before = await snapshot();
    const failure = await taskFailure(runTaskWorkflow(env.temporal, rulesOf(rule)));
    expect(failure.type).toBe('ConfigError');
    expect(failure.message).toContain(
      `config.rules[0] (r).${at}: timestamps.columns gives deleted_at the zone Asia/Tokyo, but SQL text writes a naive timestamp as the wall time of timestamps.zone (UTC): ${asked}`,
    );
    expect(await snapshot()).toEqual(before);
  });

  it("now() at time zone '<zone>' writes the wall time in the column's zone; the dry run reports the rows the real run changes", async () => {
    const task = rulesOf({
      where: "created_at < now() - interval '30 days' AND deleted_at IS NULL",
      update: { deleted_at: "now() at time zone 'Asia/Tokyo'" },
    });
    const before = await rows();
    const preview = await runTaskWorkflow(env.temporal, task, { dryRun: true });
    expect(await rows()).toEqual(before);
    const from = await clock();
    const real = await runTaskWorkflow(env.temporal, task);
    const to = await clock();
    expect((preview.details as { id: string }[]).map((d) => d.id).sort()).toEqual(['1', '4']);
    expect((real.details as { id: string }[]).map((d) => d.id).sort()).toEqual(['1', '4']);
    expect(realNames(preview.counts)).toEqual(real.counts);
    const marked = await env.db.pool.query<{ at: Date }>(`select deleted_at at time zone 'Asia/Tokyo' as at from app.items where id in (1, 4) order by id`);
    for (const { at } of marked.rows) {
      expect(at.getTime()).toBeGreaterThanOrEqual(from.getTime() - 1000);
      expect(at.getTime()).toBeLessThanOrEqual(to.getTime());
    }
    const after = await rows();
    expect(after.filter((r) => r.id === 2 || r.id === 3)).toEqual(before.filter((r) => r.id === 2 || r.id === 3));
  });

  it('a column zone equal to timestamps.zone takes now() as it is', async () => {
    const task = rulesTask({
      timestamps: { zone: 'Asia/Tokyo', columns: { deleted_at: 'Asia/Tokyo' } },
      rules: [{ name: 'r', table: 'app.items', where: 'id = 3', update: { deleted_at: 'now()' } }],
    });
    expect((await runTaskWorkflow(env.temporal, task)).counts).toMatchObject({ matched: 1, updated: 1 });
  });
});
