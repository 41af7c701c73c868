import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Pool } from 'pg';
import { quoteIdent } from '../../activities/sql/identifiers';

/**
 * The zoo's rows, relative to the database clock. Timestamps are ages in minutes (`ago(days,
 * hours, minutes)`; negative is in the future; null stays NULL), so a test can compute what a
 * task must change from the same numbers the rows were written with.
 */
export type Age = { minutes: number } | null;
export const ago = (days: number, hours = 0, minutes = 0): Age => ({ minutes: days * 1440 + hours * 60 + minutes });
/** True when the age is known and strictly older than `minutes`. */
export const olderThan = (age: Age, minutes: number) => age !== null && age.minutes > minutes;
export const HOUR = 60;
export const DAY = 1440;

type Value = string | number | boolean | null | Age;
type Seeded<T> = T & { key: string };

const schemaSql = readFileSync(join(__dirname, 'schema.sql'), 'utf8');

/** Inserts one row (ages as `localtimestamp - n minutes`) and returns its key as the snapshot spells it. */
async function insert(pool: Pool, table: string, row: Record<string, Value>, key: string[]): Promise<string> {
  const values: unknown[] = [];
  const exprs = Object.values(row).map((v) => {
    if (v !== null && typeof v === 'object') {
      values.push(v.minutes);
      return `localtimestamp - $${values.length}::int * interval '1 minute'`;
    }
    values.push(v);
    return `$${values.length}`;
  });
  const keyText = `concat_ws('|', ${key.map((k) => `${quoteIdent(k)}::text`).join(', ')})`;
  const sql = `insert into ${table} (${Object.keys(row).map(quoteIdent).join(', ')}) values (${exprs.join(', ')}) returning ${keyText} as key`;
  return (await pool.query<{ key: string }>(sql, values)).rows[0]!.key;
}

async function insertAll<T extends Record<string, Value>>(pool: Pool, table: string, rows: T[], key: string[]): Promise<Seeded<T>[]> {
  const out: Seeded<T>[] = [];
  for (const row of rows) out.push({ ...row, key: await insert(pool, table, row, key) });
  return out;
}

const run = (job_type: string, status: string, attempts: number, updated_at: Age, finished_at: Age = null, artifacts = 0, events = 0) => ({
  row: { job_type, status, attempts, updated_at, finished_at },
  artifacts,
  events,
});

/** job_runs: stale candidates (PENDING 1h, RUNNING 2h, report jobs 6h) and expired ones (COMPLETED/FAILED, 30 days). */
const RUNS = [
  run('sync', 'RUNNING', 0, ago(0, 3), null, 1, 2),
  run('sync', 'RUNNING', 2, ago(0, 5)),
  run('sync', 'PENDING', 1, ago(0, 2)),
  run('sync', 'PENDING', 3, ago(1)),
  run('report', 'RUNNING', 0, ago(0, 3)),
  run('report', 'RUNNING', 1, ago(0, 7)),
  run('sync', 'RUNNING', 0, ago(0, 1, 59)),
  run('sync', 'RUNNING', 0, null),
  run('sync', 'PENDING', 0, ago(0, 0, 30)),
  run('sync', 'COMPLETED', 0, ago(40), ago(40), 2, 3),
  run('sync', 'FAILED', 3, ago(31), ago(31), 1, 2),
  run('sync', 'COMPLETED', 0, ago(29, 23), ago(29, 23), 1, 1),
  run('sync', 'COMPLETED', 0, ago(10), ago(10), 2, 2),
  run('sync', 'FAILED', 1, ago(60), null, 1, 1),
  run('sync', 'RUNNING', 0, ago(0, 0, 1), ago(90), 0, 1),
  run('report', 'COMPLETED', 0, ago(45), ago(45), 0, 1),
  ...Array.from({ length: 6 }, () => run('sync', 'COMPLETED', 0, ago(1), ago(1), 1, 1)),
];

const doc = (tenant_id: string, seq: number, page_count: number, expires_at: Age, pages: number) => ({
  row: { tenant_id, seq, title: `${tenant_id} #${seq}`, page_count, expires_at },
  pages,
});
/** tenant_docs: seq repeats across tenants; page_count is wrong for some; negative ages expire in the future. */
const DOCS = [
  doc('acme', 1, 5, ago(2), 2),
  doc('globex', 1, 1, ago(-5), 1),
  doc('acme', 2, 3, null, 3),
  doc('globex', 2, 0, ago(0, 0, 1), 0),
  doc('acme', 3, 0, ago(0, -1), 1),
  doc('globex', 3, 0, ago(10), 1),
  doc('acme', 4, 2, ago(-30), 2),
  doc('acme', 5, 0, null, 0),
  doc('globex', 4, 1, ago(-1), 1),
  doc('globex', 5, 4, null, 1),
];

const EVENT_AGES = [1, 10, 35, 50, 61, 70, 100, 130, 160, 200, 400, ...Array.from({ length: 9 }, (_, i) => i * 2)].map((d) => ago(d));
const event = (occurred_at: Age, i: number) => ({ occurred_at, kind: i % 2 ? 'click' : 'view' });

const upload = (region: string, created_at: Age, deleted_at: Age = null) => ({ region, created_at, deleted_at });
const UPLOADS = [
  upload('eu', ago(40)),
  upload('eu', ago(40), ago(35)),
  upload('us', ago(31)),
  upload('ca', ago(29)),
  upload('jp', ago(100)),
  upload('jp', ago(1)),
  ...Array.from({ length: 4 }, () => upload('eu', ago(2))),
];

const note = (n: number, sent_at: Age) => ({ notification_id: `ntf_00${n}`, recipient: `user${n}@example.com`, sent_at, body: `message ${n}` });
const NOTIFICATIONS = [note(1, ago(20)), note(2, ago(15)), note(3, ago(13)), note(4, null), note(5, ago(0, 1)), note(6, ago(2))];

/** albums: recorded file_count vs live files (deleted files do not count). */
const ALBUMS = [
  { row: { name: 'Holidays', file_count: 3 }, live: 3, deleted: 1 },
  { row: { name: 'Work', file_count: 5 }, live: 2, deleted: 0 },
  { row: { name: 'Empty', file_count: 1 }, live: 0, deleted: 2 },
  { row: { name: 'Cats', file_count: 0 }, live: 4, deleted: 0 },
  { row: { name: 'Dogs', file_count: 2 }, live: 2, deleted: 0 },
];

/** assets: `album` is an index into ALBUMS, 'gone' for an album that does not exist, null for none. */
const asset = (album: number | 'gone' | null, status: string, retry_count: number, updated_at: Age, thumbnails = 0) => ({
  album,
  row: { status, retry_count, updated_at },
  thumbnails,
});
const ASSETS = [
  asset(0, 'COMPLETED', 0, ago(1), 1),
  asset('gone', 'COMPLETED', 0, ago(3), 2),
  asset('gone', 'FAILED', 2, ago(3)),
  asset(null, 'COMPLETED', 0, ago(1)),
  asset(1, 'PENDING', 0, ago(0, 3)),
  asset(1, 'PENDING', 2, ago(0, 2)),
  asset(2, 'PENDING', 0, ago(0, 0, 10)),
  asset(2, 'PENDING', 0, null),
  asset(0, 'RUNNING', 0, ago(0, 5)),
  ...Array.from({ length: 3 }, () => asset(0, 'COMPLETED', 0, ago(2), 1)),
];

/** analysis_plans: `job` is an index into RUNS, 'gone' for a run that does not exist, null for none. */
const plan = (plan_id: string, status: string, job: number | 'gone' | null, updated_at: Age) => ({ job, row: { plan_id, status, updated_at } });
const PLANS = [
  plan('plan-a', 'PENDING', 0, ago(0, 1)),
  plan('plan-b', 'PENDING', 9, ago(0, 1)),
  plan('plan-c', 'PENDING', 'gone', ago(0, 1)),
  plan('plan-d', 'PENDING', null, ago(0, 2)),
  plan('plan-e', 'PENDING', 'gone', ago(0, 0, 1)),
  plan('plan-f', 'ACTIVE', 'gone', ago(1)),
  plan('plan-g', 'DRAFT', 'gone', ago(1)),
  plan('plan-h', 'PENDING', 8, ago(1)),
  plan('plan-i', 'ACTIVE', 1, ago(1)),
  plan('plan-j', 'ACTIVE', 2, ago(1)),
];

const extraction = (document: string, status: string, updatedAt: Age) => ({ document, status, updatedAt });
const EXTRACTIONS = [
  extraction('a.pdf', 'PENDING', ago(0, 0, 45)),
  extraction('b.pdf', 'PENDING', ago(2)),
  extraction('c.pdf', 'PENDING', ago(0, 0, 10)),
  extraction('d.pdf', 'PENDING', null),
  extraction('e.pdf', 'RUNNING', ago(0, 2)),
  extraction('f.pdf', 'FAILED', ago(3)),
  extraction('g.pdf', 'COMPLETED', ago(5)),
  extraction('h.pdf', 'COMPLETED', ago(6)),
];

const GONE_RUN = '00000000-0000-4000-8000-00000000dead';

/** Drops and recreates the zoo, seeds it, and returns every seeded row with its key. */
export async function createZoo(pool: Pool) {
  await pool.query(schemaSql);
  const runs = [];
  let artifact = 0;
  for (const r of RUNS) {
    const key = await insert(pool, 'zoo.job_runs', r.row, ['run_id']);
    const artifacts = [];
    for (let i = 0; i < r.artifacts; i++) {
      artifacts.push(await insert(pool, 'zoo.run_artifacts', { artifact_id: `art-${++artifact}`, run_id: key, path: `/runs/${key}/${i}` }, ['artifact_id']));
    }
    const events = [];
    for (let i = 0; i < r.events; i++) events.push(await insert(pool, 'zoo.run_events', { run_id: key, message: `step ${i}` }, ['event_id']));
    runs.push({ ...r.row, key, artifacts, events });
  }
  await pool.query('insert into shadow.job_runs select * from zoo.job_runs');

  const docs = [];
  for (const d of DOCS) {
    const key = await insert(pool, 'zoo.tenant_docs', d.row, ['tenant_id', 'seq']);
    const pages = [];
    for (let i = 0; i < d.pages; i++) {
      pages.push(await insert(pool, 'zoo.doc_pages', { tenant_id: d.row.tenant_id, doc_seq: d.row.seq, body: `page ${i}` }, ['page_id']));
    }
    docs.push({ ...d.row, key, pages });
  }

  const albums = [];
  for (const a of ALBUMS) {
    const key = await insert(pool, 'zoo.albums', a.row, ['album_id']);
    for (let i = 0; i < a.live + a.deleted; i++) await insert(pool, 'zoo.album_files', { album_id: key, deleted: i >= a.live }, ['file_id']);
    albums.push({ ...a.row, key, live: a.live });
  }
  const goneAlbum = String(Math.max(...albums.map((a) => Number(a.key))) + 1000);
  const assets = [];
  for (const a of ASSETS) {
    const album_id = a.album === null ? null : a.album === 'gone' ? goneAlbum : albums[a.album]!.key;
    const key = await insert(pool, 'zoo.assets', { ...a.row, album_id }, ['asset_id']);
    const thumbnails = [];
    for (let i = 0; i < a.thumbnails; i++) thumbnails.push(await insert(pool, 'zoo.asset_thumbnails', { asset_id: key, size: `${64 << i}px` }, ['thumb_id']));
    assets.push({ ...a.row, album_id, key, thumbnails });
  }

  const plans = [];
  for (const p of PLANS) {
    const job_id = p.job === null ? null : p.job === 'gone' ? GONE_RUN : runs[p.job]!.key;
    plans.push({ ...p.row, job_id, key: await insert(pool, 'zoo.analysis_plans', { ...p.row, job_id }, ['plan_id']) });
  }

  await pool.query(`insert into zoo.legacy_log values (localtimestamp - interval '400 days', 'boot'), (localtimestamp - interval '1 day', 'tick')`);
  return {
    runs,
    docs,
    albums,
    assets,
    plans,
    events: await insertAll(pool, 'zoo.events_by_month', EVENT_AGES.map(event), ['event_id', 'occurred_at']),
    uploads: await insertAll(pool, 'zoo.uploads', UPLOADS, ['region', 'upload_id']),
    notifications: await insertAll(pool, 'zoo.notifications', NOTIFICATIONS, ['notification_id']),
    extractions: await insertAll(pool, 'zoo."Extraction"', EXTRACTIONS, ['id']),
  };
}

export type Zoo = Awaited<ReturnType<typeof createZoo>>;
