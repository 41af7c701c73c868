import { parseArgs } from 'node:util';
import { ConfigError } from '../config/load';
import { loadPlugins } from '../config/plugins';
import { CliContext, UsageError } from './context';
import * as catalog from './commands/catalog';
import * as codec from './commands/codec';
import * as runs from './commands/runs';
import * as schedules from './commands/schedules';

const USAGE = `caretaker: scheduled, durable database maintenance on Temporal

usage: caretaker <command> [options]

config
  validate                          check the config file (no Temporal needed)
  tasks                             the task catalog: every type, its config fields and defaults
schedules
  schedules sync [--dry-run] [--prune]
                                    make Temporal's schedules match the config; prints create/update/delete/unchanged
  schedules list                    every schedule in the namespace
  describe <id>                     spec, next fire times, recent runs and their results, pause note
  pause <id> [--note TEXT]          pause a schedule
  unpause <id> [--note TEXT]        resume it
  trigger <id>                      run now, under the task's overlap policy
  backfill <id> --from T --to T     take the actions the schedule would have taken in [T, T)
  delete <id>                       delete a schedule (run history stays)
runs
  run <task> [--config JSON] [--dry-run] [--wait]
                                    start a run now, outside the schedule (<task>: a task id or a task type)
  status <workflowId>               progress of a run
  cancel <workflowId>               cancel a run at its next batch boundary
encryption
  codec-server [--port 8089] [--cors-origin URL,...]
                                    Temporal's codec endpoint for the Web UI (needs the codec keys)

options
  -f, --file PATH    config file (default: $CARETAKER_CONFIG or ./maintenance.yaml)
  --json             machine-readable output on every read command
  -h, --help         this text

environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_CERT/KEY (see README)
exit codes: 0 ok, 1 failed, 2 bad input`;

type Command = (ctx: CliContext) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  validate: catalog.validate,
  tasks: catalog.tasks,
  'schedules sync': schedules.sync,
  'schedules list': schedules.list,
  describe: schedules.describe,
  pause: (ctx) => schedules.setPaused(ctx, true),
  unpause: (ctx) => schedules.setPaused(ctx, false),
  trigger: schedules.trigger,
  backfill: schedules.backfill,
  delete: schedules.remove,
  run: runs.run,
  status: runs.status,
  cancel: runs.cancel,
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
    console.error(`caretaker: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  try {
    await loadPlugins();
  } catch (err) {
    console.error(`caretaker: ${(err as Error).message}`);
    return 2;
  }
  const file = values.file ?? process.env.CARETAKER_CONFIG ?? 'maintenance.yaml';
  const ctx = new CliContext(args, values, file, Boolean(values.json));
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
