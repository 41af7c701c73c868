import { Pool } from 'pg';
import { ruleCompiler } from '../activities/rows/rules';
import type { RowsRulesConfig } from '../tasks/rows-rules';

/**
 * Run by test/rows-rules-parser-load.test.ts in a fresh process, where nothing has loaded the SQL
 * parser (no vitest setup file): compiles one rows.rules rule as the worker's activity does
 * (`ruleCompiler`, which loads the parser only for text it does not know) and prints `ok` or the error.
 * Arguments: the database URL and the parsed rows.rules config as JSON, as the worker's activity gets it.
 */
void (async () => {
  const [url, json] = process.argv.slice(2);
  const { rules, timestamps } = JSON.parse(json!) as RowsRulesConfig;
  const pool = new Pool({ connectionString: url, max: 1 });
  const client = await pool.connect();
  try {
    const compiler = await ruleCompiler(rules, timestamps);
    for (const [i, rule] of rules.entries()) await compiler.compile(client, rule, `config.rules[${i}]`);
    console.log('ok');
  } catch (err) {
    console.log((err as Error).message);
  } finally {
    client.release();
    await pool.end();
  }
})();
