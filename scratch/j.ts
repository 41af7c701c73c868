import { z } from 'zod';
import { runsCleanupStaleConfig } from '../tasks/runs-cleanup-stale';
console.log(JSON.stringify(z.toJSONSchema(runsCleanupStaleConfig, { io: 'input', unrepresentable: 'any' }), null, 1).slice(0, 1500));
