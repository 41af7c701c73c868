import { TestWorkflowEnvironment } from '@temporalio/testing';
import { CARETAKER_SEARCH_ATTRIBUTES } from '../core/search-attributes';

/**
 * Server settings Caretaker runs Temporal with, wherever it starts one: the dev server here, and
 * `deploy/dynamicconfig/development-sql.yaml` for `npm run cluster` and docker-compose.yml
 * (test/compose-parity.test.ts keeps the two in step).
 *
 * `history.timerProcessorMaxTimeShift` (server default 1 s) is how far ahead the history service
 * reads timers, and so how late a timer may fire: a schedule's next fire is a timer in its
 * scheduler workflow, and with the default a fire lands 0 to 1 s after its time (bench/temporal.ts
 * measured a p50 of ~400 ms). 50 ms costs the timer queue more frequent reads of a small table.
 */
export const DEV_SERVER_DYNAMIC_CONFIG: Record<string, string | number | boolean> = {
  'history.timerProcessorMaxTimeShift': '50ms',
};

type LocalOptions = NonNullable<Parameters<typeof TestWorkflowEnvironment.createLocal>[0]>;
type DevServerOptions = Exclude<NonNullable<LocalOptions['server']>, { type: 'time-skipping' }>;

/** The `--dynamic-config-value KEY=JSON` arguments of the dev server for DEV_SERVER_DYNAMIC_CONFIG. */
export function dynamicConfigArgs(): string[] {
  return Object.entries(DEV_SERVER_DYNAMIC_CONFIG).flatMap(([key, value]) => ['--dynamic-config-value', `${key}=${JSON.stringify(value)}`]);
}

/**
 * A local Temporal dev server as Caretaker needs it (`npm start`, the tests, the benchmarks, the
 * recorded histories): its search attributes registered, and the dynamic config above.
 */
export function startDevServer(server: Omit<DevServerOptions, 'searchAttributes' | 'extraArgs'>): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({ server: { ...server, searchAttributes: CARETAKER_SEARCH_ATTRIBUTES, extraArgs: dynamicConfigArgs() } });
}
