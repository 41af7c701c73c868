import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { buildWorkflowBundle } from './bundle';
import { loadPlugins } from '../config/plugins';

/** `npm run build:bundle [path]`: writes the prebuilt workflow bundle a production worker loads. */
async function main(): Promise<void> {
  const out = resolve(process.argv[2] ?? 'dist/workflow-bundle.js');
  const bundle = await buildWorkflowBundle(await loadPlugins());
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, bundle.code);
  console.log(`workflow bundle written to ${out} (${Math.round(bundle.code.length / 1024)} KiB)`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
