import { type Connection, isGrpcServiceError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { registerSearchAttributes } from '../../client/register-search-attributes';

const RETENTION_SECONDS = 7 * 24 * 3600;
/** gRPC status codes (grpc/status.proto). */
const NOT_FOUND = 5;
const ALREADY_EXISTS = 6;

/**
 * Registers the namespace (7 days of retention) unless it exists, then waits until the frontend
 * serves it: a new namespace reaches the frontend's cache within its refresh interval (10 s).
 * Returns whether it was created.
 */
export async function ensureNamespace(connection: Connection, namespace: string): Promise<boolean> {
  let created = false;
  try {
    // fromObject turns the plain number into the int64 (Long) the request type wants.
    await connection.workflowService.registerNamespace(
      temporal.api.workflowservice.v1.RegisterNamespaceRequest.fromObject({ namespace, workflowExecutionRetentionPeriod: { seconds: RETENTION_SECONDS } }),
    );
    created = true;
  } catch (err) {
    if (!(isGrpcServiceError(err) && err.code === ALREADY_EXISTS)) throw err;
  }
  for (;;) {
    try {
      // Listing needs the namespace in the frontend's cache, as starting a workflow does.
      await connection.workflowService.listWorkflowExecutions({ namespace, pageSize: 1 });
      return created;
    } catch (err) {
      if (!(isGrpcServiceError(err) && err.code === NOT_FOUND)) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/**
 * Registers Caretaker's search attributes with their types, the missing ones only (the same code
 * as `caretaker setup`, client/register-search-attributes.ts). Returns the names it added.
 */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  return (await registerSearchAttributes(connection, namespace)).added;
}
