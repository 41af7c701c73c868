import { spawnSync } from 'node:child_process';
import { noCliMessage, resolveTemporalCli } from './temporal-cli';

/** `npm run temporal -- <args>`: runs the resolved Temporal CLI, e.g. `npm run temporal -- schedule list`. */
async function main(): Promise<void> {
  const cli = await resolveTemporalCli({ allowDownload: false });
  if (cli.source === 'sdk-download') throw new Error(noCliMessage());
  const result = spawnSync(cli.path, process.argv.slice(2), { stdio: 'inherit' });
  process.exit(result.status ?? 1);
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
