import { beforeEach, describe, expect, it } from 'vitest';
import { useTaskEnvironment } from './support';
import { createZoo, DAY, HOUR, olderThan, type Zoo } from './zoo/seed';
import { RECENT } from './zoo/snapshot';
import { dryRunThenRun, refusal } from './zoo/run';

/**
 * Every row task against tables built the way applications build them (test/zoo/schema.sql):
 * upper-case ENUM statuses, uuid / text / bigint ids, a composite key, LIST and RANGE partitions,
 * naive timestamps and NULLs, cascading and restricting foreign keys, an audit trigger, and a
 * same-named table in another schema. For each task: the dry run changes no row, the real run
 * changes exactly the rows computed below from the seed (every table, every schema), and both
 * report the same counts, per table (cascades and audit rows included) and per set.
 */
const env = useTaskEnvironment('zoo');
let zoo: Zoo;
beforeEach(async () => {
  zoo = await createZoo(env.db.pool);
});

const keys = (rows: { key: string }[]) => rows.map((r) => r.key);
const audit = (table: string, operation: string, rowKeys: string[]) => rowKeys.map((row_key) => ({ table_name: table, operation, row_key }));
const updates = <T extends { key: string }>(rows: T[], change: (row: T) => Record<string, unknown>) => Object.fromEntries(rows.map((r) => [r.key, change(r)]));

describe('schema zoo', () => {
  it('runs.cleanup_stale: ENUM statuses, uuid ids, naive timestamps, audited updates', async () => {
    const thresholds: Record<string, number> = { PENDING: HOUR, RUNNING: 2 * HOUR };
    const limit = (r: Zoo['runs'][number]) => (r.status in thresholds ? (r.job_type === 'report' ? 6 * HOUR : thresholds[r.status]!) : null);
    const stale = zoo.runs.filter((r) => limit(r) !== null && olderThan(r.updated_at, limit(r)!));
    const requeued = stale.filter((r) => r.attempts < 2);
    const finalized = stale.filter((r) => r.attempts >= 2);
    expect([stale.length, requeued.length]).toEqual([5, 3]);

    const { real } = await dryRunThenRun(
      env,
      {
        id: 'zoo-stale',
        type: 'runs.cleanup_stale',
        config: {
          table: 'zoo.job_runs',
          columns: { id: 'run_id', status: 'status', timestamp: 'updated_at', retry_count: 'attempts', error: 'error', job_type: 'job_type' },
          thresholds: { PENDING: '1h', RUNNING: '2h' },
          job_type_thresholds: { report: '6h' },
          final_status: { PENDING: 'FAILED', RUNNING: 'FAILED' },
          requeue_status: 'PENDING',
          max_retries: 2,
          batch_size: 2,
        },
      },
      {
        'zoo.job_runs': {
          updated: {
            ...updates(requeued, (r) => ({ ...(r.status !== 'PENDING' && { status: 'PENDING' }), attempts: r.attempts + 1, updated_at: RECENT })),
            ...updates(finalized, (r) => ({
              status: 'FAILED',
              error: expect.stringMatching(new RegExp(`^Stale: ${r.status} for .*; marked FAILED by Caretaker task zoo-stale$`)),
            })),
          },
        },
        'zoo.audit_log': { inserted: audit('zoo.job_runs', 'UPDATE', keys(stale)) },
      },
    );
    expect(real.counts).toEqual({ stale: 5, requeued: 3, finalized: 2 });
  });

  it('runs.cleanup_expired: RESTRICT children deleted first, CASCADE children and audit rows counted', async () => {
    const expired = zoo.runs.filter((r) => ['COMPLETED', 'FAILED'].includes(r.status) && olderThan(r.finished_at, 30 * DAY));
    expect(expired.length).toBe(3);
    const artifacts = expired.flatMap((r) => r.artifacts);

    const { real } = await dryRunThenRun(
      env,
      {
        id: 'zoo-expired',
        type: 'runs.cleanup_expired',
        config: {
          table: 'zoo.job_runs',
          columns: { id: 'run_id', status: 'status', timestamp: 'finished_at' },
          terminal_statuses: ['COMPLETED', 'FAILED'],
          retention_days: 30,
          children: [{ table: 'zoo.run_artifacts', column: 'run_id' }],
          batch_size: 2,
        },
      },
      {
        'zoo.job_runs': { deleted: keys(expired) },
        'zoo.run_artifacts': { deleted: artifacts },
        'zoo.run_events': { deleted: expired.flatMap((r) => r.events) },
        'zoo.audit_log': { inserted: audit('zoo.job_runs', 'DELETE', keys(expired)) },
      },
    );
    expect(real.counts).toEqual({ matched: 3, deleted: 3, children_deleted: artifacts.length });
  });

  it('retention.enforce: composite key with children, RANGE and LIST partitions, mark and archive', async () => {
    const docs = zoo.docs.filter((d) => olderThan(d.expires_at, 0));
    const events = zoo.events.filter((e) => olderThan(e.occurred_at, 60 * DAY));
    const uploads = zoo.uploads.filter((u) => u.deleted_at === null && olderThan(u.created_at, 30 * DAY));
    const notes = zoo.notifications.filter((n) => olderThan(n.sent_at, 14 * DAY));
    expect([docs, events, uploads, notes].map((s) => s.length)).toEqual([3, 7, 3, 2]);
    const pages = docs.flatMap((d) => d.pages);

    const { real } = await dryRunThenRun(
      env,
      {
        id: 'zoo-retention',
        type: 'retention.enforce',
        config: {
          policies: [
            {
              name: 'expired docs',
              table: 'zoo.tenant_docs',
              id_column: ['tenant_id', 'seq'],
              expires_column: 'expires_at',
              children: [{ table: 'zoo.doc_pages', column: ['tenant_id', 'doc_seq'] }],
            },
            { name: 'old events', table: 'zoo.events_by_month', id_column: ['event_id', 'occurred_at'], timestamp_column: 'occurred_at', older_than: '60d' },
            {
              name: 'old uploads',
              table: 'zoo.uploads',
              id_column: ['region', 'upload_id'],
              timestamp_column: 'created_at',
              older_than: '30d',
              action: 'mark',
              mark: { column: 'deleted_at' },
            },
            {
              name: 'sent notifications',
              table: 'zoo.notifications',
              id_column: 'notification_id',
              timestamp_column: 'sent_at',
              older_than: '14d',
              action: 'archive',
              archive_table: 'zoo.notifications_archive',
            },
          ],
          batch_size: 2,
        },
      },
      (before) => ({
        'zoo.tenant_docs': { deleted: keys(docs) },
        'zoo.doc_pages': { deleted: pages },
        'zoo.events_by_month': { deleted: keys(events) },
        'zoo.audit_log': {
          inserted: audit(
            'zoo.events_by_month',
            'DELETE',
            events.map((e) => e.key.split('|')[0]!),
          ),
        },
        'zoo.uploads': { updated: updates(uploads, () => ({ deleted_at: RECENT })) },
        'zoo.notifications': { deleted: keys(notes) },
        'zoo.notifications_archive': { inserted: notes.map((n) => before.tables['zoo.notifications']![n.key]!) },
      }),
    );
    expect(real.counts).toEqual({ matched: 15, deleted: 10, children_deleted: pages.length, marked: 3, archived: 2 });
    expect(real.sets['old events']).toEqual({ matched: 7, deleted: 7 });
  });

  it('status.reset: ENUM from/to status, jobs that are missing, NULL or not running', async () => {
    const running = (job: string | null) => zoo.runs.some((r) => r.key === job && ['PENDING', 'RUNNING'].includes(r.status));
    const stuck = zoo.plans.filter((p) => p.status === 'PENDING' && olderThan(p.updated_at, 10) && !running(p.job_id));
    expect(keys(stuck)).toEqual(['plan-b', 'plan-c', 'plan-d']);

    const { real } = await dryRunThenRun(
      env,
      {
        id: 'zoo-reset',
        type: 'status.reset',
        config: {
          table: 'zoo.analysis_plans',
          columns: { id: 'plan_id', status: 'status', job: 'job_id', timestamp: 'updated_at' },
          from_status: 'PENDING',
          to_status: 'DRAFT',
          min_age: '10m',
          jobs: { table: 'zoo.job_runs', id_column: 'run_id', status_column: 'status', running_statuses: ['PENDING', 'RUNNING'] },
          batch_size: 2,
        },
      },
      { 'zoo.analysis_plans': { updated: updates(stuck, () => ({ status: 'DRAFT' })) } },
    );
    expect(real.counts).toEqual({ matched: 3, reset: 3 });
  });

  const counter = (spec: Record<string, unknown>) => ({ id: 'zoo-counts', type: 'counts.rebuild', config: { counters: [spec], batch_size: 2 } });

  it('counts.rebuild: a bigint key, counting only the children a filter keeps', async () => {
    const albums = zoo.albums.filter((a) => a.file_count !== a.live);
    expect(albums.length).toBe(3);
    const spec = { table: 'zoo.albums', id_column: 'album_id', count_column: 'file_count' };
    const children = { child_table: 'zoo.album_files', child_column: 'album_id', child_where: { deleted: false } };
    const expected = { 'zoo.albums': { updated: updates(albums, (a) => ({ file_count: a.live })) } };
    const { real } = await dryRunThenRun(env, counter({ ...spec, ...children }), expected);
    expect(real.counts).toEqual({ checked: 5, drifted: 3, fixed: 3 });
  });

  it('counts.rebuild: a composite key (the same seq under two tenants)', async () => {
    const docs = zoo.docs.filter((d) => d.page_count !== d.pages.length);
    expect(docs.length).toBe(4);
    const spec = { table: 'zoo.tenant_docs', id_column: ['tenant_id', 'seq'], count_column: 'page_count' };
    const children = { child_table: 'zoo.doc_pages', child_column: ['tenant_id', 'doc_seq'] };
    const expected = { 'zoo.tenant_docs': { updated: updates(docs, (d) => ({ page_count: d.pages.length })) } };
    const { real } = await dryRunThenRun(env, counter({ ...spec, ...children }), expected);
    expect(real.counts).toEqual({ checked: 10, drifted: 4, fixed: 4 });
  });

  it('assets.detect_orphans: missing_parent deletes with RESTRICT children, stuck_pending on an ENUM', async () => {
    const orphans = zoo.assets.filter((a) => a.album_id !== null && !zoo.albums.some((al) => al.key === a.album_id));
    const stuck = zoo.assets.filter((a) => a.status === 'PENDING' && olderThan(a.updated_at, HOUR));
    const [requeued, failed] = [stuck.filter((a) => a.retry_count < 2), stuck.filter((a) => a.retry_count >= 2)];
    expect([orphans.length, requeued.length, failed.length]).toEqual([2, 1, 1]);
    const thumbnails = orphans.flatMap((a) => a.thumbnails);

    const { real } = await dryRunThenRun(
      env,
      {
        id: 'zoo-orphans',
        type: 'assets.detect_orphans',
        config: {
          rules: [
            {
              kind: 'missing_parent',
              name: 'assets without album',
              table: 'zoo.assets',
              id_column: 'asset_id',
              reference_column: 'album_id',
              parent_table: 'zoo.albums',
              parent_id_column: 'album_id',
              action: 'delete',
              children: [{ table: 'zoo.asset_thumbnails', column: 'asset_id' }],
            },
            {
              kind: 'stuck_pending',
              table: 'zoo.assets',
              id_column: 'asset_id',
              pending_status: 'PENDING',
              failed_status: 'FAILED',
              max_retries: 2,
              error_column: 'error',
            },
          ],
          batch_size: 2,
        },
      },
      {
        'zoo.assets': {
          deleted: keys(orphans),
          updated: {
            ...updates(requeued, (a) => ({ retry_count: a.retry_count + 1, updated_at: RECENT })),
            ...updates(failed, () => ({ status: 'FAILED', error: 'Stuck in PENDING after 2 re-queues; marked FAILED by Caretaker task zoo-orphans' })),
          },
        },
        'zoo.asset_thumbnails': { deleted: thumbnails },
      },
    );
    expect(real.counts).toEqual({ matched: 4, deleted: 2, children_deleted: thumbnails.length, requeued: 1, failed: 1 });
  });

  it('extraction.queue_orphans: an ORM-made table (quoted mixed-case names, its own ENUM, timestamp(3))', async () => {
    const orphans = zoo.extractions.filter((x) => x.status === 'PENDING' && olderThan(x.updatedAt, 30));
    expect(orphans.map((x) => x.document)).toEqual(['a.pdf', 'b.pdf']);

    const { real } = await dryRunThenRun(
      env,
      {
        id: 'zoo-extraction',
        type: 'extraction.queue_orphans',
        config: { table: 'zoo.Extraction', columns: { timestamp: 'updatedAt' }, pending_status: 'PENDING', older_than: '30m', batch_size: 1 },
      },
      { 'zoo.Extraction': { updated: updates(orphans, () => ({ updatedAt: RECENT })) } },
    );
    expect(real.counts).toEqual({ matched: 2, requeued: 2 });
  });

  describe('refuses, before changing anything, a table it cannot act on safely', () => {
    const policy = (p: Record<string, unknown>) => ({
      id: 'zoo-refuse',
      type: 'retention.enforce',
      config: { policies: [{ timestamp_column: 'logged_at', older_than: '30d', ...p }] },
    });

    it.each([
      ['a view', { table: 'zoo.active_runs', id_column: 'run_id', timestamp_column: 'updated_at' }, '"zoo.active_runs" is a view'],
      ['a table without a key', { table: 'zoo.legacy_log', id_column: 'logged_at' }, 'it has no primary key or unique index'],
      ['part of a composite key', { table: 'zoo.tenant_docs', id_column: 'seq', timestamp_column: 'expires_at' }, 'its keys are primary key (tenant_id, seq)'],
      [
        'children without a foreign key',
        { table: 'zoo.job_runs', id_column: 'run_id', timestamp_column: 'finished_at', children: [{ table: 'zoo.analysis_plans', column: 'job_id' }] },
        'zoo.analysis_plans (job_id) has no foreign key referencing zoo.job_runs (run_id)',
      ],
    ])('%s', async (_what, p, message) => {
      const failure = await refusal(env, policy(p));
      expect(failure.type).toBe('ConfigError');
      expect(failure.message).toContain(message);
    });
  });

  // The defaults speak lower case ('completed', 'pending'); these ENUMs do not. A run that matches
  // nothing, forever, and reports 'completed' would hide that: it has to fail and name the value.
  describe('fails, naming it, a status value that is not a label of the ENUM', () => {
    it.each([
      ['retention.enforce', { policies: [{ table: 'zoo.job_runs', id_column: 'run_id', expires_column: 'finished_at', where: { status: 'done' } }] }, 'done'],
      ['extraction.queue_orphans', { table: 'zoo.Extraction', columns: { timestamp: 'updatedAt' } }, 'pending'],
      ['runs.cleanup_expired', { table: 'zoo.job_runs', columns: { id: 'run_id', timestamp: 'finished_at' } }, 'completed'],
      ['runs.cleanup_stale', { table: 'zoo.job_runs', columns: { id: 'run_id', retry_count: 'attempts' } }, 'submitted'],
    ])('%s', async (type, config, label) => {
      expect((await refusal(env, { id: 'zoo-labels', type, config })).message).toContain(`"${label}"`);
    });
  });
});
