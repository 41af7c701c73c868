import { cleanupJobDryRuns } from './examples/cleanup-job';
import { curatoreDryRuns } from './examples/curatore';
import { housekeeperDryRuns } from './examples/housekeeper';
import { thesisappDryRuns } from './examples/thesisapp';
import { ucoreDryRuns } from './examples/ucore';

/*
 * Every task of every example in examples/, dry-run through the real loader and worker against a
 * schema built for it (test/examples/<name>.sql): each finds exactly the rows and files its seed
 * marks, and no table row or file changes. Sample directories hold a `.gitkeep` (and logs a
 * dotfile that matches the pattern) that files rules must not count.
 */

cleanupJobDryRuns();
curatoreDryRuns();
housekeeperDryRuns();
thesisappDryRuns();
ucoreDryRuns();
