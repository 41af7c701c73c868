import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node' with { 'resolution-mode': 'import' };
import { resolveTemporalCli } from '../dev/temporal-cli';
import { buildWorkflowBundle } from '../worker/bundle';
import { startDevServer } from '../dev/dev-server';
import { freeLoopbackPort as freePort } from '../worker/metrics';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalCli: string;
    workflowBundlePath: string;
    /** Temporal Web of the dev server, e.g. http://127.0.0.1:41234 */
    temporalUiUrl: string;
  }
}

/**
 * One real Temporal dev server for the whole run (the CLI resolved like `npm start` does, built
 * with Go on a fresh machine), and the workflow bundle built once: a forbidden import in
 * workflows/ fails here. Caretaker's search attributes are registered (every run upserts them), and
 * the Web UI runs on a free port for the browser tests.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cli = await resolveTemporalCli({ allowDownload: false });
  if (cli.source === 'sdk-download') throw new Error('unreachable: allowDownload is false');
  const uiPort = await freePort();
  const env = await startDevServer({ executable: { type: 'existing-path', path: cli.path }, log: { format: 'pretty', level: 'error' }, ui: true, uiPort });
  const dir = mkdtempSync(join(tmpdir(), 'caretaker-test-'));
  const bundlePath = join(dir, 'workflow-bundle.js');
  writeFileSync(bundlePath, (await buildWorkflowBundle()).code);
  project.provide('temporalAddress', env.address);
  project.provide('temporalCli', cli.path);
  project.provide('workflowBundlePath', bundlePath);
  project.provide('temporalUiUrl', `http://127.0.0.1:${uiPort}`);
  return async () => {
    await env.teardown();
    rmSync(dir, { recursive: true, force: true });
  };
}
