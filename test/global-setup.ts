import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { TestProject } from 'vitest/node' with { 'resolution-mode': 'import' };
import { resolveTemporalCli } from '../dev/temporal-cli';
import { buildWorkflowBundle } from '../worker/bundle';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalCli: string;
    workflowBundlePath: string;
  }
}

/**
 * One real Temporal dev server for the whole run (the CLI resolved like `npm start` does, built
 * with Go on a fresh machine), and the workflow bundle built once: a forbidden import in
 * workflows/ fails here.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cli = await resolveTemporalCli({ allowDownload: false });
  if (cli.source === 'sdk-download') throw new Error('unreachable: allowDownload is false');
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: cli.path }, log: { format: 'pretty', level: 'error' } },
  });
  const dir = mkdtempSync(join(tmpdir(), 'caretaker-test-'));
  const bundlePath = join(dir, 'workflow-bundle.js');
  writeFileSync(bundlePath, (await buildWorkflowBundle()).code);
  project.provide('temporalAddress', env.address);
  project.provide('temporalCli', cli.path);
  project.provide('workflowBundlePath', bundlePath);
  return async () => {
    await env.teardown();
    rmSync(dir, { recursive: true, force: true });
  };
}
