import { z } from 'zod';
import { type AssignedValue, type Assignments, parseColumnRef, parseTemplate } from '../core/column-refs';

/** The config schema's column references (core/column-refs.ts parses them where they are used). */

const REF_HINT = `expected a column name, or a JSON path into a json/jsonb column like config->>'retry_count'`;

/** A column or a JSON path inside one (kept as written; parsed where it is used). */
export const columnRef = () => z.string().refine((s) => parseColumnRef(s) !== null, { error: (i) => `${REF_HINT}; got ${JSON.stringify(i.input)}` });

/** A column, a JSON path, or a text template over columns like `apps/{model_slug}/app{app_number}`. */
export const textTemplate = () =>
  z.string().refine((s) => parseTemplate(s) !== null, {
    error: (i) =>
      `expected a column name, a JSON path (meta->>'file'), or a template over columns like "apps/{model_slug}/app{app_number}"; got ${JSON.stringify(i.input)}`,
  });

/**
 * The value an assignment writes: a literal (cast to the column's type; inside JSON, as JSON), NULL,
 * `{ now: true }` (the database clock), or `{ increment: N }` (NULL counts as 0).
 */
export const assignedValue = () =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.object({ now: z.literal(true) }).strict(), z.object({ increment: z.number().int() }).strict()]);

/** `{ started_at: null, broker_task_id: null, "config->>'retries'": { increment: 1 }, finished_at: { now: true } }` */
export const assignments = () => z.record(columnRef(), assignedValue()).default({});

/** Compile-time check: the schema yields exactly core's types (core cannot import zod's inference). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
export const schemaMatchesCore: Same<z.output<ReturnType<typeof assignedValue>>, AssignedValue> & Same<z.output<ReturnType<typeof assignments>>, Assignments> =
  true;
