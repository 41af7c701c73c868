import { join } from 'node:path';
import { definePlugin } from '../../config/plugins';
import { createQueueActivities } from './activities';
import { queueReleaseLeases } from './task';

/**
 * 4. Registration: CARETAKER_PLUGINS=examples/custom-task/index.ts makes `queue.release_leases`
 * known to `caretaker validate`, `caretaker tasks`, schedule sync, `npm start` and the worker.
 */
export default definePlugin({
  name: 'queue-leases',
  taskTypes: [queueReleaseLeases],
  createActivities: createQueueActivities,
  workflowsPath: join(__dirname, 'workflows.ts'),
});
