import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDatabases } from '../worker/check-run';
import { builtinCatalog } from '../tasks';
import { parseConfigText } from '../config/load';
import { PoolRegistry } from '../worker/databases';
import { runTaskWorkflow, taskFailure } from './fixtures';
import { rowsOf, rulesTask } from './rows-rules-support';
import { useTaskEnvironment } from './support';

/**
 * `rows.rules` against the live database: names and functions the text uses are checked in the
 * catalog when a run plans (a config error, not retried, before any row changes) and by `caretaker check`.
 */
const env = useTaskEnvironment('rows_rules_errors');
let pools: PoolRegistry;

beforeAll(async () => {
  await env.db.pool.query(`create table jobs (id int primary key, state text not null, finished_at timestamptz, seen_at timestamp);
    insert into jobs values (1, 'done', now() - interval '2 days', null), (2, 'running', null, null)`);
  pools = new PoolRegistry(new Map([['default', env.db.url]]));
});
afterAll(async () => pools?.close());

const rule = (extra: Record<string, unknown>) => ({ name: 'r', table: 'jobs', ...extra });

const cases = [
  {
    name: 'an unknown column in where, with a did-you-mean',
    rule: rule({ where: "finshed_at < now() - interval '1 day'", delete: {} }),
    message: /config\.rules\[0\] \(r\)\.where: .*finshed_at.*did you mean "finished_at"/,
  },
  {
    name: 'a volatile function',
    rule: rule({ where: 'random() < 0.5', delete: {} }),
    message: /config\.rules\[0\] \(r\).*random.*VOLATILE.*IMMUTABLE or STABLE/,
  },
  {
    name: 'an unquoted word as a value',
    rule: rule({ where: "state = 'running'", update: { state: 'retryable' } }),
    message: /config\.rules\[0\] \(r\)\.update\.state: .*retryable.*for the text write 'retryable' \(SQL quotes\) or \{ value: retryable \}/,
  },
  {
    name: 'a per-column zone SQL text cannot apply',
    rule: rule({ where: "seen_at < now() - interval '1 hour'", delete: {} }),
    config: { timestamps: { zone: 'UTC', columns: { seen_at: 'Europe/Berlin' } } },
    message: /config\.rules\[0\] \(r\): timestamps\.columns gives seen_at the zone Europe\/Berlin, .* set timestamps\.zone: Europe\/Berlin for this task/,
  },
  {
    name: 'a key that is not unique',
    rule: rule({ key: 'state', where: "state = 'done'", delete: {} }),
    message:
      /config\.rules\[0\] \(r\): key "state" is not a unique key of public\.jobs; its keys are primary key \(id\): name one of them \(a list for several columns, e\.g\. key: \[id\]\)/,
  },
  {
    name: 'an unknown column to set',
    rule: rule({ where: "state = 'running'", update: { stat: "'x'" } }),
    message: /config\.rules\[0\] \(r\): column "stat" does not exist in table public\.jobs; did you mean "state"\?/,
  },
];

describe('rows.rules: catalog and function checks', () => {
  it.each(cases)('a run refuses $name before changing anything (ConfigError, not retried)', async ({ rule: r, message, config }) => {
    const before = await rowsOf(env.db.pool, 'jobs');
    const failure = await taskFailure(runTaskWorkflow(env.temporal, rulesTask({ rules: [r], ...config })));
    expect(failure.type).toBe('ConfigError');
    expect(failure.message).toMatch(message);
    expect(await rowsOf(env.db.pool, 'jobs')).toEqual(before);
  });

  it('caretaker check reports each of them as an error of its task', async () => {
    const fine = {
      id: 'fine',
      type: 'rows.rules',
      config: { rules: [rule({ where: "state = 'done' and finished_at < now() - interval '1 day'", delete: {} })] },
    };
    const tasks = [fine, ...cases.map((c, i) => ({ id: `t${i}`, type: 'rows.rules', config: { rules: [c.rule], ...c.config } }))];
    const cfg = parseConfigText(JSON.stringify({ tasks }), 'maintenance.yaml', {});
    const [db] = await checkDatabases(cfg, pools, builtinCatalog);
    expect(db!.tasks.find((t) => t.task === 'fine')!.findings).toEqual([]);
    cases.forEach((c, i) => {
      const findings = db!.tasks.find((t) => t.task === `t${i}`)!.findings;
      expect(findings.map((f) => f.severity)).toEqual(['error']);
      expect(findings[0]!.message).toMatch(c.message);
    });
  });

  it('validate refuses a subquery in where, naming the fragment', () => {
    const tasks = [{ id: 't', type: 'rows.rules', config: { rules: [rule({ where: 'id in (select id from jobs)', delete: {} })] } }];
    expect(() => parseConfigText(JSON.stringify({ tasks }), 'maintenance.yaml', {})).toThrow(/tasks\[0\]\.config\.rules\[0\]\.where: .*select/i);
  });
});
