import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../config/load';
import { configWarnings } from '../config/warnings';
import { formatRef, parseColumnRef, parseTemplate } from '../core/column-refs';

describe('column references (pure)', () => {
  it('parses columns and JSON paths; only the last step may be ->>', () => {
    expect(parseColumnRef('retry_count')).toEqual({ column: 'retry_count', path: [] });
    expect(parseColumnRef("config->>'retry_count'")).toEqual({ column: 'config', path: ['retry_count'] });
    expect(parseColumnRef("meta -> 'limits' ->> 'max'")).toEqual({ column: 'meta', path: ['limits', 'max'] });
    expect(formatRef({ column: 'meta', path: ['limits', 'max'] })).toBe("meta->'limits'->>'max'");
    for (const bad of ["config->>'a'->'b'", 'a; drop table x', "config->>'it''s'", '1col', 'config->>retry', 'a.b']) {
      expect(parseColumnRef(bad), bad).toBeNull();
    }
  });

  it('parses templates into literal text and references', () => {
    expect(parseTemplate('generated/apps/{model_slug}/app{app_number}')).toEqual([
      'generated/apps/',
      { column: 'model_slug', path: [] },
      '/app',
      { column: 'app_number', path: [] },
    ]);
    expect(parseTemplate("files/{meta->>'name'}")).toEqual(['files/', { column: 'meta', path: ['name'] }]);
    expect(parseTemplate('file_path')).toEqual([{ column: 'file_path', path: [] }]);
    for (const bad of ['apps/{model slug}', 'apps/{a}}', 'no columns/here', 'apps/{}', 'a{b']) expect(parseTemplate(bad), bad).toBeNull();
  });
});

const parse = (tasks: unknown[], extra: Record<string, unknown> = {}) => parseConfigText(JSON.stringify({ ...extra, tasks }), 'test.yaml', {});

describe('config for real shapes', () => {
  it('names what a bad reference, template or zone should have been', () => {
    expect(() =>
      parse([{ id: 's', type: 'runs.cleanup_stale', config: { table: 'runs', max_retries: 0, columns: { job_type: 'kind; drop table runs' } } }]),
    ).toThrow(
      /config\.columns\.job_type: expected a column name, or a JSON path into a json\/jsonb column like config->>'retry_count'; got "kind; drop table runs"/,
    );
    expect(() =>
      parse([
        { id: 'o', type: 'assets.detect_orphans', config: { rules: [{ kind: 'missing_file', table: 'apps', path_column: 'apps/{a b}', base_dir: '/x' }] } },
      ]),
    ).toThrow(/path_column: expected a column name, a JSON path \(meta->>'file'\), or a template over columns/);
    expect(() => parse([{ id: 's', type: 'runs.cleanup_stale', config: { table: 'runs', max_retries: 0, timestamps: { zone: 'Mars/Olympus' } } }])).toThrow(
      /timestamps\.zone: expected an IANA time zone like UTC or Europe\/Berlin; got "Mars\/Olympus"/,
    );
    expect(() => parse([{ id: 's', type: 'runs.cleanup_stale', config: { table: 'runs', max_retries: 0, age_columns: { queued: 'created_at' } } }])).toThrow(
      /age_columns\.queued: expected a status with a threshold \(submitted, pending, running\), got "queued"/,
    );
    expect(() =>
      parse([
        {
          id: 'o',
          type: 'assets.detect_orphans',
          config: { rules: [{ kind: 'missing_parent', table: 't', reference_column: ['a', 'b'], parent_table: 'p' }] },
        },
      ]),
    ).toThrow(/expected as many parent_id_column columns as reference_column columns \(2\)/);
  });

  it("a task inherits its database's zone unless it names its own; tasks without timestamps are untouched", () => {
    const cfg = parse(
      [
        { id: 'a', type: 'runs.cleanup_expired', config: { table: 'runs' } },
        { id: 'b', type: 'runs.cleanup_expired', config: { table: 'runs', timestamps: { zone: 'Europe/Berlin' } } },
        { id: 'c', type: 'runs.cleanup_expired', database: 'other', config: { table: 'runs' } },
        { id: 'd', type: 'files.cleanup', config: { directories: [{ path: '/tmp/x', pattern: '*.log', max_age: '30d' }] } },
      ],
      { databases: { default: { timestamps: { zone: 'UTC' } } } },
    );
    expect(cfg.tasks.map((t) => (t.config.timestamps as { zone: string | null } | undefined)?.zone)).toEqual(['UTC', 'Europe/Berlin', null, undefined]);
  });

  it('validate warns about decimal sizes, files rules without a pattern and vacuum without tables', () => {
    const cfg = parse([
      { id: 'cache', type: 'files.cleanup', config: { directories: [{ path: '/var/cache/app', max_total_size: '100MB' }] } },
      { id: 'vacuum', type: 'db.vacuum' },
      { id: 'logs', type: 'files.cleanup', config: { directories: [{ path: '/var/log/app', pattern: '*.log', max_total_size: '1GiB' }] } },
    ]);
    expect(configWarnings(cfg)).toEqual([
      'tasks[0] (cache).config.directories[0].max_total_size: "100MB" is decimal (MB = 1000^n bytes); if the system counts in 1024s, as du, ls -h and most code do, write "100MiB"',
      'tasks[0] (cache).config.directories[0]: no pattern, so every file under /var/cache/app counts (dotfiles excepted); name the files it may touch, e.g. pattern: "**/*.log"',
      'tasks[1] (vacuum).config: no tables, so it vacuums every table in every schema; list the tables it should look after (tables: [runs, events])',
    ]);
  });
});
