import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { describe, expect, inject, it } from 'vitest';
import { builtinTaskTypes } from '../tasks';

Runtime.install({ logger: new DefaultLogger('WARN') });

const DIR = join(__dirname, 'histories');

/** Every saved history (`npm run histories:refresh` writes them from real runs). */
function savedHistories() {
  return readdirSync(DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const history = historyFromJSON(JSON.parse(readFileSync(join(DIR, file), 'utf8')));
      const type = history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? '';
      return { file, type, history };
    });
}

async function replay(histories: ReturnType<typeof savedHistories>): Promise<{ file: string; error?: string }[]> {
  const results: { file: string; error?: string }[] = [];
  const iterable = histories.map((h) => ({ workflowId: h.file, history: h.history }));
  for await (const result of Worker.runReplayHistories({ workflowBundle: { codePath: inject('workflowBundlePath') } }, iterable)) {
    results.push({ file: result.workflowId, ...(result.error ? { error: `${result.error.name}: ${result.error.message}` } : {}) });
  }
  return results;
}

describe('replay of saved histories', () => {
  it('covers every workflow type of the catalog', () => {
    const covered = new Set(savedHistories().map((h) => h.type));
    expect([...new Set(builtinTaskTypes.map((t) => t.workflow))].filter((w) => !covered.has(w))).toEqual([]);
  });

  it('every saved history replays on the current workflow code (a change that would break running workflows fails here)', async () => {
    const histories = savedHistories();
    expect(await replay(histories)).toEqual(histories.map((h) => ({ file: h.file })));
  });

  it('a history whose workflow took another step than the code takes is reported as nondeterministic', async () => {
    const [changed] = savedHistories().filter((h) => h.type === 'runsCleanupExpiredWorkflow'); // a fresh copy, changed below
    const scheduled = changed!.history.events!.find((e) => e.activityTaskScheduledEventAttributes)!.activityTaskScheduledEventAttributes!;
    scheduled.activityType = { name: 'renamedActivity' };
    const [result] = await replay([changed!]);
    expect(result!.error).toMatch(/DeterminismViolation|[Nn]ondetermin/);
  });
});
