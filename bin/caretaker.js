#!/usr/bin/env node
// The `caretaker` command: runs the TypeScript CLI through tsx's require hook.
require('tsx/cjs');
require('../client/cli.ts')
  .main(process.argv.slice(2))
  .then(
    (code) => process.exit(code),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
