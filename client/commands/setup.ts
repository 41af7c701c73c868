import { temporalEnv } from '../../config/temporal-env';
import { cloudHint, registerSearchAttributes } from '../register-search-attributes';
import type { CliContext } from '../context';
import { setupLedger } from './setup-ledger';

/**
 * `caretaker setup`: registers Caretaker's search attributes in the namespace; with `--database
 * NAME`, creates the run ledger in that database instead (setup-ledger.ts). Both idempotent.
 */
export async function setup(ctx: CliContext): Promise<number> {
  const database = ctx.flag('database');
  if (database !== undefined) return setupLedger(ctx, database);
  const client = await ctx.client();
  const { namespace } = temporalEnv();
  let result;
  try {
    result = await registerSearchAttributes(client.connection, namespace);
  } catch (err) {
    const message = (err as Error).message;
    const denied = /permission|denied|unimplemented|not supported|unauthori/i.test(message);
    ctx.print(
      { ok: false, namespace, error: message, hint: cloudHint(namespace) },
      () => `caretaker setup: could not register search attributes in ${namespace}: ${message}${denied ? `\n${cloudHint(namespace)}` : ''}`,
    );
    return 1;
  }
  ctx.print({ ok: true, namespace, ...result }, () =>
    [`namespace ${namespace}: search attributes ready`, ...result.added.map((n) => `  added    ${n}`), ...result.existing.map((n) => `  present  ${n}`)].join(
      '\n',
    ),
  );
  return 0;
}
