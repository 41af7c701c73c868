import { parseArgs } from 'node:util';
import { ConfigError } from '../config/load';
import { catalogWithPlugins, loadPlugins } from '../config/plugins';
import type { Catalog } from '../tasks';
import { CliContext, UsageError } from './context';
import * as catalog from './commands/catalog';
import * as codec from './commands/codec';
import * as runs from './commands/runs';
import { status } from './commands/status';
import { history } from './commands/history';
import { setup } from './commands/setup';
import { closestMatch } from '../config/did-you-mean';
import * as schedules from './commands/schedules';
import { describe } from './commands/describe';
import { check } from './commands/check';
import * as approval from './commands/approval';
import { rules } from './commands/rules';

const USAGE = `caretaker: scheduled, durable database maintenance on Temporal

usage: caretaker <command> [options]

config
  validate                          check the config file (no Temporal needed)
  check [--database NAME] [--json | --junit FILE] [--strict]
                                    validate, then check every task against its live database: tables, columns,
                                    keys, privileges, the ledger schema, the first batch's plan (exit 1 on an error)
  tasks [<type>]                    the task catalog: every type (or one), its config fields and defaults
  rules <task-id>                   a task of a type with a rows.rules form (status.reset, runs.cleanup_expired,
                                    sync.trigger, retention.enforce, runs.cleanup_stale, extraction.queue_orphans,
                                    assets.detect_orphans) as rows.rules YAML to paste in its place and edit
  setup                             register Caretaker's search attributes in the namespace (idempotent)
  setup --database NAME             create the run ledger's schema and tables in that database (idempotent;
                                    run it as a role with CREATE there, so the worker's role needs none)
schedules
  schedules sync [--dry-run] [--prune]
                                    make Temporal's schedules match the config; prints create/update/delete/unchanged
  schedules list                    every schedule in the namespace, with its last outcome
  describe <id>                     spec as written, next fire times, recent runs (also manual and startup), pause note
  pause <id> [--note TEXT]          pause a schedule (an existing note is kept unless --note is given)
  unpause <id> [--note TEXT]        resume it
  trigger <id>                      run now, under the task's overlap policy
  backfill <id> --from T --to T     take the actions the schedule would have taken in [T, T)
  delete <id>                       delete a schedule (run history stays)
runs
  run <task> [--config JSON] [--dry-run] [--wait]
                                    start a run now, outside the schedule (<task>: a task id or a task type);
                                    --wait shows live progress, then the per-table summary (exit 1 on failure,
                                    3 when the connection to Temporal is lost)
  status <workflowId>               phase, progress, checkpoint age, failure cause (exit 1 for a failed run)
  history <task> [--since 7d|DATE]  every run of a task: outcome, dry run, rows changed, duration
  cancel <workflowId>               cancel a run at its next batch boundary (exit 2 if it already ended)
approval (tasks with approval:)
  plans                             runs whose plan waits for approval, oldest first: rows per table, age, expiry
  approve <workflowId> [--note TEXT] [--as NAME]
                                    apply the plan (refused when the task's config changed since it was planned)
  reject <workflowId> --note TEXT [--as NAME]
                                    end the run without changing anything; approver: --as, else the OS user
encryption
  codec-server [--port 8089] [--cors-origin URL,...]
                                    Temporal's codec endpoint for the Web UI (needs the codec keys)

options
  -f, --file PATH    config file (default: $CARETAKER_CONFIG or ./maintenance.yaml)
  --json             machine-readable output on every read command
  -h, --help         this text

environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_CERT/KEY (see README),
             CARETAKER_UI_URL (Temporal Web for links, default http://localhost:8233)
exit codes: 0 ok, 1 failed (or refused), 2 bad input (or cancel of a run that already ended),
            3 run --wait lost its connection to Temporal (the run goes on: caretaker status <id>)`;

type Command = (ctx: CliContext) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  validate: catalog.validate,
  check,
  tasks: catalog.tasks,
  rules,
  setup,
  'schedules sync': schedules.sync,
  'schedules list': schedules.list,
  describe,
  pause: (ctx) => schedules.setPaused(ctx, true),
  unpause: (ctx) => schedules.setPaused(ctx, false),
  trigger: schedules.trigger,
  backfill: schedules.backfill,
  delete: schedules.remove,
  run: runs.run,
  status,
  history,
  cancel: runs.cancel,
  approve: approval.approve,
  reject: approval.reject,
  plans: approval.plans,
  'codec-server': codec.serve,
};

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        file: { type: 'string', short: 'f' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        'dry-run': { type: 'boolean' },
        prune: { type: 'boolean' },
        wait: { type: 'boolean' },
        note: { type: 'string' },
        config: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        port: { type: 'string' },
        'cors-origin': { type: 'string' },
        since: { type: 'string' },
        database: { type: 'string' },
        junit: { type: 'string' },
        strict: { type: 'boolean' },
        as: { type: 'string' },
      },
    });
  } catch (err) {
    console.error(`caretaker: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length === 0) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const [first, second, ...rest] = positionals;
  const twoWord = `${first} ${second}`;
  const [name, args] = COMMANDS[twoWord] ? [twoWord, rest] : [first!, positionals.slice(1)];
  const command = COMMANDS[name];
  if (!command) {
    const hint = (second !== undefined ? closestMatch(twoWord, Object.keys(COMMANDS)) : undefined) ?? closestMatch(first!, Object.keys(COMMANDS));
    console.error(`caretaker: unknown command "${name}"${hint ? `; did you mean "${hint}"?` : ''}\n\n${USAGE}`);
    return 2;
  }
  let catalog: Catalog;
  try {
    catalog = catalogWithPlugins(await loadPlugins());
  } catch (err) {
    console.error(`caretaker: ${(err as Error).message}`);
    return 2;
  }
  const file = values.file ?? process.env.CARETAKER_CONFIG ?? 'maintenance.yaml';
  const ctx = new CliContext(args, values, file, Boolean(values.json), catalog);
  try {
    return await command(ctx);
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError) {
      console.error(`caretaker: ${err.message}`);
      return 2;
    }
    console.error(`caretaker ${name}: ${(err as Error).message ?? String(err)}`);
    return 1;
  } finally {
    await ctx.close();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
