import { NativeConnection, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { createActivities } from '../activities';
import { askingWorker } from '../activities/engine/worker-stopping';
import type { ActivityDeps, DatabasePools } from '../activities/engine/deps';
import type { TemporalEnv } from '../config/temporal-env';
import type { CaretakerPlugin } from '../config/plugins';
import { dataConverterFromEnv } from '../config/codec';

/** How stale the progress people see may be, at most (issue 6: ~5 s behind the last committed batch). */
export const HEARTBEAT_FRESHNESS = '4s';

export interface CaretakerWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  databases: DatabasePools;
  workflowBundle: WorkflowBundleOption;
  /** Custom task types; their workflows must be in `workflowBundle` (buildWorkflowBundle(plugins)). */
  plugins?: readonly CaretakerPlugin<ActivityDeps>[];
  /** Seconds to let running activities finish on shutdown before they are cancelled. */
  shutdownGraceTime?: string;
}

export async function connectWorker(env: TemporalEnv): Promise<NativeConnection> {
  return NativeConnection.connect({ address: env.address, tls: env.tls, apiKey: env.apiKey });
}

export async function createCaretakerWorker(opts: CaretakerWorkerOptions): Promise<Worker> {
  // Its activities stop at the next batch boundary once it shuts down (activities/engine/worker-stopping.ts).
  const built: { worker?: Worker } = {};
  const activities = askingWorker(
    Object.assign(createActivities({ databases: opts.databases }), ...(opts.plugins ?? []).map((p) => p.createActivities({ databases: opts.databases }))),
    () => built.worker !== undefined && built.worker.getState() !== 'RUNNING',
  );
  const worker = await Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    workflowBundle: opts.workflowBundle,
    activities,
    shutdownGraceTime: opts.shutdownGraceTime ?? '30s',
    // Payload encryption when CARETAKER_CODEC_KEYS / _KEY_FILE are set (config/codec.ts); off by default.
    dataConverter: dataConverterFromEnv(),
    // Heartbeats (the batch checkpoints `caretaker status`, `run --wait` and Temporal Web show) reach
    // the server at most this long after a batch commits; the SDK's own cap is 60 s. They add no
    // history events, so this keeps progress fresh without growing a run's history.
    maxHeartbeatThrottleInterval: HEARTBEAT_FRESHNESS,
    defaultHeartbeatThrottleInterval: HEARTBEAT_FRESHNESS,
  });
  built.worker = worker;
  return worker;
}
