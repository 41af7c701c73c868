import type { TaskInput, PartialResult } from '../core/contract';
import type { ActivityDeps } from './engine/deps';
import { closeRuns, DEFAULT_LEDGER_SCHEMA, readLedger } from './engine/ledger';
import { runKeyOf } from './engine/engine';
import { Tally } from './engine/tally';

export function createLedgerActivities({ databases }: ActivityDeps) {
  return {
    /**
     * What a failed or cancelled real run committed, from its ledger: exact even when the last
     * attempt died without reporting (SIGKILL, a lost worker), and final: the run's claims are
     * closed first, so an attempt still running (a frozen worker that wakes later) commits nothing
     * more. Undefined when nothing was recorded.
     */
    async readRunLedger(input: TaskInput<{ dry_run: boolean }>, workflowId: string, runId: string): Promise<PartialResult | undefined> {
      const client = await databases.get(input.database).connect();
      try {
        const schema = databases.ledgerSchema?.(input.database) ?? DEFAULT_LEDGER_SCHEMA;
        const prefix = runKeyOf(workflowId, runId, '');
        await closeRuns(client, schema, prefix);
        const entries = await readLedger(client, schema, prefix);
        if (entries.length === 0) return undefined;
        const tally = new Tally({ details: 0, bytes: 0 }, []);
        entries.forEach((e) => tally.apply(e.effect));
        return tally.partial(false);
      } finally {
        client.release();
      }
    },
  };
}
