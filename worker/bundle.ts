import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { CaretakerPlugin } from '../config/plugins';

export const WORKFLOWS_PATH = join(__dirname, '..', 'workflows', 'index.ts');

/**
 * Bundles `workflows/` (and the workflows of any plugins) once; a forbidden import fails here,
 * before any worker polls.
 */
export async function buildWorkflowBundle(plugins: readonly CaretakerPlugin[] = []): Promise<WorkflowBundleWithSourceMap> {
  let workflowsPath = WORKFLOWS_PATH;
  if (plugins.length > 0) {
    // One entry module re-exporting Caretaker's workflows and every plugin's. It lives inside the
    // project (git-ignored .caretaker/) so webpack resolves @temporalio/workflow from node_modules.
    const dir = join(__dirname, '..', '.caretaker', 'bundle-entries');
    mkdirSync(dir, { recursive: true });
    const entry = join(mkdtempSync(join(dir, 'entry-')), 'index.ts');
    const lines = [WORKFLOWS_PATH, ...plugins.map((p) => p.workflowsPath)].map((path) => `export * from ${JSON.stringify(path.replace(/\.ts$/, ''))};`);
    writeFileSync(entry, `${lines.join('\n')}\n`);
    workflowsPath = entry;
  }
  return bundleWorkflowCode({ workflowsPath, logger: quietLogger });
}

const noop = () => undefined;
const quietLogger = { trace: noop, debug: noop, info: noop, warn: console.warn, error: console.error, log: noop };
