/**
 * Caretaker's custom search attributes: every run carries them, so Temporal Web and
 * `caretaker history` can filter by task, type, dry run and outcome
 * (`CaretakerTaskId = "purge" AND CaretakerOutcome = "completed"`). They must be registered on a
 * server before a workflow may set them: `npm start` and the tests do it on the dev server,
 * `caretaker setup` on any cluster.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const TASK_ID = defineSearchAttributeKey('CaretakerTaskId', SearchAttributeType.KEYWORD);
export const TASK_TYPE = defineSearchAttributeKey('CaretakerTaskType', SearchAttributeType.KEYWORD);
export const DRY_RUN = defineSearchAttributeKey('CaretakerDryRun', SearchAttributeType.BOOL);
/** completed, completed_with_errors, skipped, refused, failed, cancelled, rejected, expired; `running` until it ends, `awaiting_approval` while a plan waits. */
export const OUTCOME = defineSearchAttributeKey('CaretakerOutcome', SearchAttributeType.KEYWORD);
export const ROWS_CHANGED = defineSearchAttributeKey('CaretakerRowsChanged', SearchAttributeType.INT);

/** All of them, for registration (`temporal operator search-attribute create`, the dev server's options). */
export const CARETAKER_SEARCH_ATTRIBUTES = [TASK_ID, TASK_TYPE, DRY_RUN, OUTCOME, ROWS_CHANGED];
