import { parseConfigText } from '../config/load';
const text = `
tasks:
  - id: stale
    type: stale_run.cleanup
    schedule: { every: 5m }
    config: { table: job_runs, columns: { retry_count: retry_count } }
  - id: Bad Id
    type: nope.nope
  - id: stale2
    type: runs.cleanup_stale
    overlap: sometimes
    schedule: { every: 5x, timezone: Mars/Base }
    config: { table: job_runs, max_retries: -1, batch_size: 0, thresholds: { running: 2 } }
`;
try { console.log(JSON.stringify(parseConfigText(text, 'maintenance.yaml').tasks[0], null, 1)); } catch (e) { console.log((e as Error).message); }
console.log(JSON.stringify(parseConfigText(text.split('  - id: Bad')[0]!, 'm.yaml').tasks[0]));
