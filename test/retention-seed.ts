import type { RetentionEnforceConfig, RetentionPolicy } from '../tasks/retention-enforce';

/**
 * Seeds for any retention.enforce config (test/presets.test.ts): every table its policies name,
 * with the columns they read, and rows a minute either side of every age and expiry, with ties,
 * undated rows, each `where` value and another, marked and unmarked; sizes that make a size cap
 * bite; two child rows per parent; the archive tables. Each table gets `row_no`, a serial the
 * snapshots key on, so a composite key needs no special case. Times are relative to the moment the
 * seed is built, so seeding twice makes the same rows.
 */

const q = (name: string) =>
  name
    .split('.')
    .map((p) => `"${p}"`)
    .join('.');
const bare = (name: string) => name.replace(/^public\./, '');
const schemaOf = (name: string) => (name.includes('.') ? [`create schema if not exists "${name.split('.')[0]}";`] : []);

type Scalar = string | number | boolean | null;
const sqlType = (v: Scalar) => (typeof v === 'boolean' ? 'boolean' : typeof v === 'number' ? 'numeric' : 'text');
const literal = (v: Scalar) => (v === null ? 'null' : typeof v === 'string' ? `'${v.replace(/'/g, "''")}'` : String(v));
const otherThan = (v: Scalar): Scalar => (typeof v === 'boolean' ? !v : typeof v === 'number' ? v + 1 : 'other');

interface Shape {
  name: string;
  key: string[];
  columns: Map<string, string>;
  /** Timestamp columns, each set to the row's instant. */
  times: Set<string>;
  /** `where` columns and the values the policies ask for. */
  filters: Map<string, Scalar[]>;
  marks: Map<string, Scalar | undefined>;
  sizes: Map<string, number>;
  /** Ages (ms before now; negative: after) a minute either side of each policy's threshold. */
  ages: Set<number>;
  policies: RetentionPolicy[];
}

const MINUTE = 60_000;
const DAY = 86_400_000;

function shapes(cfg: RetentionEnforceConfig): Map<string, Shape> {
  const out = new Map<string, Shape>();
  for (const p of cfg.policies) {
    const id = bare(p.table);
    const key = [p.id_column].flat();
    const s = out.get(id) ?? {
      name: p.table,
      key,
      columns: new Map<string, string>(),
      times: new Set<string>(),
      filters: new Map<string, Scalar[]>(),
      marks: new Map<string, Scalar | undefined>(),
      sizes: new Map<string, number>(),
      ages: new Set<number>([DAY, 3 * DAY, -DAY]),
      policies: [],
    };
    out.set(id, s);
    s.policies.push(p);
    for (const c of [p.timestamp_column, p.expires_column]) {
      if (c === undefined) continue;
      s.times.add(c);
      s.columns.set(c, 'timestamptz');
    }
    if (p.older_than !== undefined) [p.older_than + MINUTE, p.older_than - MINUTE].forEach((a) => s.ages.add(a));
    if (p.expires_column) [MINUTE, -MINUTE].forEach((a) => s.ages.add(a));
    for (const [c, v] of Object.entries(p.where)) {
      const values = [v as Scalar | Scalar[]].flat();
      s.columns.set(c, sqlType(values[0] ?? ''));
      s.filters.set(c, [...new Set([...(s.filters.get(c) ?? []), ...values])]);
    }
    if (p.mark) {
      s.columns.set(p.mark.column, p.mark.value === undefined ? 'timestamptz' : sqlType(p.mark.value));
      s.marks.set(p.mark.column, p.mark.value);
    }
    // Five rows fill a size cap: the rest of the rows in its scope go.
    const cap = p.max_total_size;
    if (cap !== undefined) s.sizes.set(p.size_column ?? '', Math.ceil(cap / 5));
    if (p.size_column) s.columns.set(p.size_column, 'bigint');
    for (const k of key) if (!s.columns.has(k)) s.columns.set(k, 'int');
  }
  return out;
}

/** The rows of a table: every age (and undated, unless the timestamp is in the key) × filter values × marks, each twice (a tie). */
function rows(s: Shape, next: () => number, now: string): { columns: string[]; values: string[][] } {
  const columns = [...s.columns.keys()];
  const ages: (number | null)[] = [...s.ages].sort((a, b) => a - b);
  if (![...s.times].some((t) => s.key.includes(t))) ages.push(null);
  let combos: Record<string, string>[] = ages.map((age) =>
    Object.fromEntries([...s.times].map((t) => [t, age === null ? 'null' : `${now} - ${age} * interval '1 millisecond'`])),
  );
  for (const [c, values] of s.filters) combos = combos.flatMap((r) => [...values, otherThan(values[0]!)].map((v) => ({ ...r, [c]: literal(v) })));
  for (const [c, value] of s.marks) {
    const marked = value === undefined ? `${now} - interval '1 day'` : literal(value);
    combos = combos.flatMap((r) => [r, { ...r, [c]: marked }]);
  }
  const values = [...combos, ...combos].map((r) => {
    const n = next();
    return columns.map((c) => {
      if (r[c] !== undefined) return r[c];
      if (s.sizes.has(c)) return String(s.sizes.get(c));
      if (s.marks.has(c)) return 'null';
      if (s.key.includes(c)) return String(n);
      return s.columns.get(c) === 'bigint' ? '1' : 'null';
    });
  });
  return { columns, values };
}

/** The SQL that creates and fills every table of `cfg`, and each table's snapshot key (`row_no`, children `child_id`). */
export function seedRetention(cfg: RetentionEnforceConfig, base: number): { sql: string; tables: Record<string, string> } {
  let n = base;
  const next = () => n++;
  // One instant for every seeding of this config: a timestamp in a key is the same row each time (runs are seconds apart; margins a minute).
  const now = `'${new Date().toISOString()}'::timestamptz`;
  const sql: string[] = [];
  const tables: Record<string, string> = {};
  const drops: string[] = [];
  for (const s of shapes(cfg).values()) {
    const { columns, values } = rows(s, next, now);
    const defs = columns.map((c) => `"${c}" ${s.columns.get(c)}${s.key.includes(c) ? ' not null' : ''}`);
    const pk = `primary key (${s.key.map((k) => `"${k}"`).join(', ')})`;
    drops.push(s.name);
    sql.push(...schemaOf(s.name), `create table ${q(s.name)} (row_no serial unique, ${defs.join(', ')}, ${pk});`);
    sql.push(`insert into ${q(s.name)} (${columns.map((c) => `"${c}"`).join(', ')}) values ${values.map((v) => `(${v.join(', ')})`).join(', ')};`);
    tables[s.name] = 'row_no';
    for (const p of s.policies) {
      if (p.archive_table && !drops.includes(p.archive_table)) {
        drops.push(p.archive_table);
        sql.push(...schemaOf(p.archive_table), `create table ${q(p.archive_table)} (row_no int unique, ${defs.join(', ')}, ${pk});`);
        tables[p.archive_table] = 'row_no';
      }
      for (const child of p.children) {
        if (drops.includes(child.table)) continue;
        drops.push(child.table);
        const refs = [child.column].flat();
        const refDefs = refs.map((r, i) => `"${r}" ${s.columns.get(s.key[i]!)}`);
        const fk = child.no_foreign_key
          ? ''
          : `, foreign key (${refs.map((r) => `"${r}"`).join(', ')}) references ${q(s.name)} (${s.key.map((k) => `"${k}"`).join(', ')})`;
        sql.push(...schemaOf(child.table), `create table ${q(child.table)} (child_id serial primary key, ${refDefs.join(', ')}${fk});`);
        const from = s.key.map((k) => `p."${k}"`).join(', ');
        sql.push(`insert into ${q(child.table)} (${refs.map((r) => `"${r}"`).join(', ')}) select ${from} from ${q(s.name)} p, generate_series(1, 2);`);
        tables[child.table] = 'child_id';
      }
    }
  }
  return { sql: [`drop table if exists ${drops.map(q).join(', ')} cascade;`, ...sql].join('\n'), tables };
}
