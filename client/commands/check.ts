import { writeFile } from 'node:fs/promises';
import { configWarnings } from '../../config/warnings';
import { PoolRegistry, databaseUrlsFromEnv, poolSettingsFromEnv } from '../../worker/databases';
import { checkDatabases } from '../../worker/check-run';
import { checkJunit, checkText, countFindings } from '../check-report';
import { type CliContext, UsageError } from '../context';

/**
 * `caretaker check [--database NAME] [--json | --junit FILE] [--strict]`: what `validate` checks,
 * then every task against the live databases it uses. Exit 1 on an error (with --strict, also on a
 * warning), 2 on bad usage or an invalid config.
 */
export async function check(ctx: CliContext): Promise<number> {
  const junit = ctx.flag('junit');
  const only = ctx.flag('database');
  if (junit !== undefined && ctx.json) throw new UsageError('check: expected --json or --junit FILE, not both');
  if (ctx.flags.junit === '' || junit?.startsWith('-')) throw new UsageError(`check: --junit expects a file name, got ${JSON.stringify(junit)}`);
  const cfg = await ctx.config();
  const warnings = configWarnings(cfg);
  const used = [...new Set(cfg.tasks.map((t) => t.database))];
  if (only !== undefined && !used.includes(only)) {
    throw new UsageError(`check: --database expects a database the config's tasks use (${used.join(', ') || 'none'}), got "${only}"`);
  }
  const pools = new PoolRegistry(databaseUrlsFromEnv(), poolSettingsFromEnv());
  try {
    const checks = await checkDatabases(cfg, pools, ctx.catalog, only);
    const counts = countFindings(checks, warnings);
    if (junit !== undefined) await writeFile(junit, checkJunit(checks));
    ctx.print({ ok: counts.errors === 0, file: ctx.configFile, ...counts, configWarnings: warnings, databases: checks }, () =>
      checkText(ctx.configFile, checks, warnings),
    );
    return counts.errors > 0 || (ctx.flags.strict === true && counts.warnings > 0) ? 1 : 0;
  } finally {
    await pools.close();
  }
}
