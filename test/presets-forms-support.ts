import { parseColumnRef } from '../core/column-refs';
import type { AssetsDetectOrphansConfig } from '../tasks/assets-detect-orphans';
import type { ExtractionQueueOrphansConfig } from '../tasks/extraction-queue-orphans';
import type { RunsCleanupStaleConfig } from '../tasks/runs-cleanup-stale';

/**
 * Seeds for the types whose rows.rules form `caretaker rules` prints (runs.cleanup_stale,
 * extraction.queue_orphans, assets.detect_orphans): tables with every column a config names, and
 * rows a minute either side of every threshold, in and out of every status and filter, with every
 * retry count that decides a branch; plus as many rows no rule picks, so max_fraction's default holds.
 */

export interface Seed {
  sql: string;
  /** Table -> its key column, for the row snapshots. */
  tables: Record<string, string>;
}

const q = (name: string) =>
  name
    .split('.')
    .map((p) => `"${p}"`)
    .join('.');
const schemaOf = (name: string) => (name.includes('.') ? [`create schema if not exists "${name.split('.')[0]}";`] : []);
const text = (v: string) => `'${v.replace(/'/g, "''")}'`;
const ago = (ms: number) => `now() - ${Math.max(0, ms)} * interval '1 millisecond'`;

/** One table's columns (name -> SQL type) and rows (column or JSON path -> SQL value); JSON paths become jsonb objects. */
class TableSeed {
  readonly columns = new Map<string, string>();
  readonly rows: Map<string, string>[] = [];
  constructor(
    readonly name: string,
    readonly key: string,
  ) {
    this.columns.set(key, 'int primary key');
  }

  /** A column or JSON path reference; a JSON path makes its column jsonb. */
  column(reference: string, type: string): void {
    const r = parseColumnRef(reference)!;
    if (r.path.length > 0) this.columns.set(r.column, 'jsonb');
    else if (!this.columns.has(r.column)) this.columns.set(r.column, type);
  }

  add(values: Record<string, string>): void {
    this.rows.push(new Map(Object.entries(values)));
  }

  sql(base: number): string[] {
    const cols = [...this.columns.keys()];
    const values = this.rows.map((row, i) => {
      const json = new Map<string, string[]>();
      const plain = new Map<string, string>([[this.key, String(base + i)]]);
      for (const [reference, value] of row) {
        const r = parseColumnRef(reference)!;
        if (r.path.length === 0) plain.set(r.column, value);
        else {
          const nested = r.path.reduceRight(
            (inner, k, j) => (j === r.path.length - 1 ? `jsonb_build_object(${text(k)}, ${value})` : `jsonb_build_object(${text(k)}, ${inner})`),
            '',
          );
          json.set(r.column, [...(json.get(r.column) ?? []), nested]);
        }
      }
      const cell = (c: string) => {
        const parts = json.get(c);
        if (parts) return `(${parts.join(' || ')})`;
        return plain.get(c) ?? 'null';
      };
      return `(${cols.map(cell).join(', ')})`;
    });
    return [
      ...schemaOf(this.name),
      `create table ${q(this.name)} (${cols.map((c) => `"${c}" ${this.columns.get(c)}`).join(', ')});`,
      ...(values.length > 0 ? [`insert into ${q(this.name)} (${cols.map((c) => `"${c}"`).join(', ')}) values ${values.join(', ')};`] : []),
    ];
  }
}

/** As many rows again that no rule picks (status `filler`, every other column as given): max_fraction's default then holds. */
function fill(t: TableSeed, status: string, also: Record<string, string> = {}): void {
  const n = t.rows.length;
  for (let i = 0; i < n; i++) t.add({ [status]: text('filler'), ...also });
}

function seedOf(tables: TableSeed[], base: number): Seed {
  return {
    sql: [`drop table if exists ${tables.map((t) => q(t.name)).join(', ')} cascade;`, ...tables.flatMap((t, i) => t.sql(base + i * 100_000))].join('\n'),
    tables: Object.fromEntries(tables.map((t) => [t.name, t.key])),
  };
}

const assignedType = (v: unknown) =>
  typeof v === 'number' ? 'numeric' : typeof v === 'boolean' ? 'boolean' : v !== null && typeof v === 'object' && 'now' in v ? 'timestamptz' : 'text';

/** runs.cleanup_stale: every status with a threshold and one without × every job type (and another, and none) × a minute either side of the threshold that applies × retry counts (none, 0, one below the limit, at it) × heartbeats (none, fresh, old). */
export function seedStale(cfg: RunsCleanupStaleConfig, base: number): Seed {
  const c = cfg.columns;
  const t = new TableSeed(cfg.table, [c.id].flat()[0]!);
  // A column that timestamps.columns gives a zone of its own is naive: it holds that zone's wall times.
  const stamp = (col: string) => (col in cfg.timestamps.columns ? 'timestamp' : 'timestamptz');
  t.column(c.status, 'text not null');
  for (const col of [c.timestamp, ...Object.values(cfg.age_columns), c.heartbeat, c.finished_at]) if (col) t.column(col, stamp(col));
  if (c.retry_count) t.column(c.retry_count, 'int');
  if (c.error) t.column(c.error, 'text');
  if (c.job_type) t.column(c.job_type, 'text');
  for (const set of [cfg.requeue_set, ...Object.values(cfg.final_set)])
    for (const [target, v] of Object.entries(set)) t.column(target, assignedType(v) === 'timestamptz' ? stamp(target) : assignedType(v));
  const statuses = [...Object.keys(cfg.thresholds), 'completed'];
  const jobs: (string | null)[] = c.job_type ? [...Object.keys(cfg.job_type_thresholds), 'other', null] : [null];
  const retries = c.retry_count ? [...new Set([null, 0, Math.max(0, cfg.max_retries - 1), cfg.max_retries])] : [null];
  const beats: (number | null)[] = c.heartbeat ? [null, 0, cfg.heartbeat_timeout + 60_000] : [null];
  for (const status of statuses)
    for (const job of jobs) {
      const limit = (job !== null ? cfg.job_type_thresholds[job] : undefined) ?? cfg.thresholds[status] ?? 3_600_000;
      for (const age of [limit + 60_000, limit - 60_000])
        for (const retry of retries)
          for (const beat of beats) {
            const row: Record<string, string> = { [c.status]: text(status) };
            for (const col of [c.timestamp, ...Object.values(cfg.age_columns)]) row[col] = ago(age);
            if (c.heartbeat) row[c.heartbeat] = beat === null ? 'null' : ago(beat);
            if (c.job_type && job !== null) row[c.job_type] = parseColumnRef(c.job_type)!.path.length > 0 ? `to_jsonb(${text(job)}::text)` : text(job);
            if (c.retry_count && retry !== null) row[c.retry_count] = parseColumnRef(c.retry_count)!.path.length > 0 ? `to_jsonb(${retry})` : String(retry);
            t.add(row);
          }
    }
  fill(t, c.status, Object.fromEntries([c.timestamp, ...Object.values(cfg.age_columns)].map((col) => [col, 'now()'])));
  return seedOf([t], base);
}

/** extraction.queue_orphans: pending, the re-queue status and another × a minute either side of older_than. */
export function seedQueueOrphans(cfg: ExtractionQueueOrphansConfig, base: number): Seed {
  const c = cfg.columns;
  const t = new TableSeed(cfg.table, [c.id].flat()[0]!);
  t.column(c.status, 'text not null');
  t.column(c.timestamp, 'timestamptz');
  for (const status of new Set([cfg.pending_status, cfg.requeue_status ?? 'requeued', 'other']))
    for (const age of [cfg.older_than + 60_000, cfg.older_than - 60_000]) t.add({ [c.status]: text(status), [c.timestamp]: ago(age) });
  fill(t, c.status, { [c.timestamp]: 'now()' });
  return seedOf([t], base);
}

type RowKind = Extract<AssetsDetectOrphansConfig['rules'][number], { kind: 'missing_parent' | 'stuck_pending' }>;

/**
 * assets.detect_orphans' row rules: per missing_parent rule, a reference to a parent that exists,
 * one that does not and none × each `where` column holding its value or another (child rows for a
 * delete); per stuck_pending rule, pending, failed and another status × a minute either side of
 * older_than × retry counts (none, 0, one below max_retries, at it). Rules on one table share it.
 */
export function seedOrphans(rules: RowKind[], base: number): Seed {
  const tables = new Map<string, TableSeed>();
  const tableOf = (name: string, key: string) => tables.get(name) ?? tables.set(name, new TableSeed(name, key)).get(name)!;
  const sqlOf = (v: unknown) => (v === null ? 'null' : typeof v === 'string' ? text(v) : String(v));
  const typeOf = (v: unknown) => (typeof v === 'boolean' ? 'boolean' : typeof v === 'number' ? 'numeric' : 'text');
  const other = (v: unknown) => (typeof v === 'boolean' ? !v : typeof v === 'number' ? v + 1 : 'other');
  /** Per table, what its filler rows hold: the parent that exists, a status no rule picks. */
  const fillers = new Map<TableSeed, Record<string, string>>();
  const filler = (t: TableSeed, values: Record<string, string>) => fillers.set(t, { ...fillers.get(t), ...values });
  const children: { table: string; column: string; parent: TableSeed }[] = [];
  for (const r of rules) {
    const t = tableOf(r.table, [r.id_column].flat()[0]!);
    if (r.kind === 'missing_parent') {
      const refs = [r.reference_column].flat();
      const parentCols = [r.parent_id_column].flat();
      const parent = tableOf(r.parent_table, `${parentCols[0]}_key`);
      parentCols.forEach((pc) => parent.column(pc, 'text'));
      if (parent.rows.length === 0) parent.add(Object.fromEntries(parentCols.map((pc) => [pc, text('p1')])));
      refs.forEach((rc) => t.column(rc, 'text'));
      const filters = Object.entries(r.where);
      filters.forEach(([k, v]) => t.column(k, typeOf(Array.isArray(v) ? v[0] : v)));
      for (const [target, v] of Object.entries(r.set)) t.column(target, typeOf(v));
      let combos: [string, unknown][][] = [[]];
      for (const [k, v] of filters) {
        const value = Array.isArray(v) ? v[0] : v;
        combos = combos.flatMap((cmb) => [
          [...cmb, [k, value]],
          [...cmb, [k, value === null ? 'other' : other(value)]],
        ]);
      }
      for (const ref of ['p1', 'p404', null])
        for (const cmb of combos)
          t.add({
            ...Object.fromEntries(refs.map((rc) => [rc, ref === null ? 'null' : text(ref)])),
            ...Object.fromEntries(cmb.map(([k, v]) => [k, sqlOf(v)])),
          });
      if (r.action === 'delete') for (const ch of r.children) children.push({ table: ch.table, column: [ch.column].flat()[0]!, parent: t });
      filler(
        t,
        Object.fromEntries([...refs.map((rc) => [rc, text('p1')]), ...filters.map(([k]) => [k, typeOf(r.where[k]) === 'text' ? text('filler') : 'null'])]),
      );
    } else {
      t.column(r.status_column, 'text');
      t.column(r.timestamp_column, 'timestamptz');
      t.column(r.retry_column, 'int');
      if (r.error_column) t.column(r.error_column, 'text');
      const json = parseColumnRef(r.retry_column)!.path.length > 0;
      for (const s of [r.pending_status, r.failed_status, 'other'])
        for (const age of [r.older_than + 60_000, r.older_than - 60_000])
          for (const retry of new Set([null, 0, Math.max(0, r.max_retries - 1), r.max_retries]))
            t.add({
              [r.status_column]: text(s),
              [r.timestamp_column]: ago(age),
              ...(retry !== null && { [r.retry_column]: json ? `to_jsonb(${retry})` : String(retry) }),
            });
      filler(t, { [r.status_column]: text('filler'), [r.timestamp_column]: 'now()' });
    }
  }
  const seeds = [...tables.values()];
  for (const [t, values] of fillers) {
    const n = t.rows.length;
    for (let i = 0; i < n; i++) t.add(values);
  }
  const kids = children.map((ch) => {
    const kid = new TableSeed(ch.table, 'child_id');
    kid.columns.set(ch.column, `int references ${q(ch.parent.name)} ("${ch.parent.key}")`);
    ch.parent.rows.forEach((_, i) => kid.add({ [ch.column]: String(base + seeds.indexOf(ch.parent) * 100_000 + i) }));
    return kid;
  });
  return seedOf([...seeds, ...kids], base);
}
