import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { caretaker } from './cli';
import { createTestDatabase, startTestWorker, type TestTemporal } from './support';
import { insertJob, PIPELINE_SCHEMA, PIPELINE_TASK_CONFIG } from './fixtures';
import { APPROVAL_MEMO, type ApprovalMemo } from '../core/approval';

/** Debian's Chromium (`.ci/run` installs it when missing). */
const CHROMIUM = process.env.CARETAKER_CHROMIUM || '/usr/bin/chromium';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let temporal: TestTemporal;
let browser: Browser;
let dir: string;
let file: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`the Web UI tests need Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CARETAKER_CHROMIUM to its path)`);
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  db = await createTestDatabase('webui');
  await db.pool.query(PIPELINE_SCHEMA);
  temporal = await startTestWorker({ default: db.url });
  process.env.TEMPORAL_ADDRESS = temporal.address;
  process.env.CARETAKER_UI_URL = inject('temporalUiUrl');
  dir = mkdtempSync(join(tmpdir(), 'caretaker-webui-'));
  file = join(dir, 'maintenance.yaml');
  const tasks = [
    { id: 'ui-stale', type: 'runs.cleanup_stale', description: 'Fails pipeline jobs nobody has heard from', config: PIPELINE_TASK_CONFIG },
    { id: 'ui-broken', type: 'runs.cleanup_stale', config: { ...PIPELINE_TASK_CONFIG, table: 'app.no_such_table' }, retry: { maximum_attempts: 1 } },
    { id: 'ui-approve', type: 'runs.cleanup_stale', config: PIPELINE_TASK_CONFIG, approval: { required: true } },
  ];
  writeFileSync(file, JSON.stringify({ task_queue: temporal.taskQueue, tasks }));
});
afterAll(async () => {
  await browser?.close();
  await temporal?.stop();
  await db?.drop();
  delete process.env.CARETAKER_UI_URL;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Everything a person can read on the page, the markdown Temporal Web renders in its frames included. */
async function readable(page: Page): Promise<string> {
  const texts = await Promise.all(
    page.frames().map((f) =>
      f
        .locator('body')
        .innerText()
        .catch(() => ''),
    ),
  );
  return texts.join('\n');
}

/**
 * Whether the last line of the rendered markdown that contains `text` is inside its frame's visible
 * area: Temporal Web sizes each frame from its content, and a frame too short clips the end.
 */
async function lastLineVisible(page: Page, text: string): Promise<boolean> {
  for (const frame of page.frames()) {
    if (frame === page.mainFrame()) continue;
    const lines = frame.locator('p, tr, li').filter({ hasText: text });
    if ((await lines.count().catch(() => 0)) === 0) continue;
    const [line, box] = await Promise.all([lines.last().boundingBox(), frame.frameElement().then((e) => e.boundingBox())]);
    return line !== null && box !== null && line.y + line.height <= box.y + box.height;
  }
  return false;
}

/**
 * Opens a run's page the way a person follows the CLI's link, opens its User Metadata tab (summary,
 * details, current details) and returns what it reads once `expected` shows (the page loads
 * asynchronously; the current details come from a query the worker answers).
 */
async function readRunPage(url: string, expected: RegExp, lastLine?: string): Promise<string> {
  const page = await browser.newPage();
  try {
    await page.goto(url);
    await page.getByText('User Metadata', { exact: true }).first().click({ timeout: 30_000 });
    let text = '';
    await expect
      .poll(async () => (text = await readable(page)), { timeout: 30_000, message: `${url}: the page never showed ${String(expected)}` })
      .toMatch(expected);
    if (lastLine) await expect.poll(() => lastLineVisible(page, lastLine), { timeout: 10_000, message: `${url}: "${lastLine}" is clipped` }).toBe(true);
    return text;
  } finally {
    await page.close();
  }
}

describe('Temporal Web', () => {
  it('shows a dry run as DRY RUN, with the task description and the per-table counts', async () => {
    await insertJob(db.pool, { state: 'running', attempts: 3, age: '5 hours' });
    await insertJob(db.pool, { state: 'running', attempts: 3, age: '6 hours' });
    const run = JSON.parse((await caretaker('run', 'ui-stale', '--dry-run', '--wait', '--json', '-f', file)).out);
    expect(run.result).toMatchObject({ status: 'completed', dryRun: true });
    // The link the CLI prints points at this server's UI (CARETAKER_UI_URL).
    const url = `${inject('temporalUiUrl')}/namespaces/default/workflows/${run.workflowId}`;
    // The per-table table ends the current details: its last row must not be clipped.
    const text = await readRunPage(url, /table\s+would_update\s+app\.pipeline_jobs\s+2/, 'app.pipeline_jobs');
    expect(text).toContain('DRY RUN · Caretaker runs.cleanup_stale (ui-stale), started by hand'); // summary
    expect(text).toContain('DRY RUN: nothing is changed'); // details
    expect(text).toContain('Fails pipeline jobs nobody has heard from'); // the task's description
    expect(text).toContain('COMPLETED (DRY RUN: nothing was changed)'); // current details at the end
    expect(text).toContain('Would change: stale=2 would_requeue=0 would_finalize=2');
    expect(text).toContain('DRY RUN · runs.cleanup_stale (ui-stale)'); // the activity's summary
  });

  it('shows a failed run as FAILED with its cause, without opening the JSON', async () => {
    const failed = JSON.parse((await caretaker('run', 'ui-broken', '--wait', '--json', '-f', file)).out);
    expect(failed).toMatchObject({ failed: true, outcome: 'failed' });
    expect(failed.url).toBe(`${inject('temporalUiUrl')}/namespaces/default/workflows/${failed.workflowId}`);
    const text = await readRunPage(failed.url, /FAILED: /, 'No rows changed.');
    expect(text).toMatch(/FAILED: task ui-broken: config: table .app\.no_such_table. does not exist/); // the renderer curls the quotes
    expect(text).toContain('Changed before it stopped: nothing');
    expect(text).toContain('Caretaker runs.cleanup_stale (ui-broken), started by hand');
    expect(text).not.toContain('DRY RUN');
  });

  it('shows a run awaiting approval with the plan per table and the exact approve and reject commands', async () => {
    await db.pool.query('truncate app.pipeline_jobs');
    await insertJob(db.pool, { state: 'running', attempts: 3, age: '5 hours' });
    await insertJob(db.pool, { state: 'running', attempts: 3, age: '6 hours' });
    const started = JSON.parse((await caretaker('run', 'ui-approve', '--json', '-f', file)).out) as { workflowId: string; url: string };
    const handle = temporal.client.workflow.getHandle(started.workflowId);
    await expect.poll(async () => ((await handle.describe()).memo?.[APPROVAL_MEMO] as ApprovalMemo | undefined)?.state, { timeout: 30_000 }).toBe('awaiting');
    const text = await readRunPage(started.url, /AWAITING APPROVAL/, `caretaker reject ${started.workflowId}`);
    expect(text).toMatch(/table\s+would_update\s+app\.pipeline_jobs\s+2/); // the plan's counts per table
    expect(text).toContain(`caretaker approve ${started.workflowId}`);
    expect(text).toMatch(new RegExp(`caretaker reject ${started.workflowId} --note .why.`)); // the renderer curls the quotes
    expect(text).toContain('nothing has been changed yet');
    expect((await caretaker('reject', started.workflowId, '--note', 'seen in the browser test', '-f', file)).code).toBe(0);
    expect(await handle.result()).toMatchObject({ status: 'skipped' });
  });
});
