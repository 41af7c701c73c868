#!/usr/bin/env node
// The `caretaker` command: runs the TypeScript CLI with tsx, whose hooks also load TypeScript
// plugins named in CARETAKER_PLUGINS. The exit code passes through.
const { spawnSync } = require('node:child_process');
const { join } = require('node:path');

const result = spawnSync(process.execPath, [require.resolve('tsx/cli'), join(__dirname, '..', 'client', 'cli.ts'), ...process.argv.slice(2)], {
  stdio: 'inherit',
});
if (result.error) {
  console.error(`caretaker: ${result.error.message}`);
  process.exit(1);
}
process.exit(result.status ?? 1);
