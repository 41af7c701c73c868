import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument, isNode } from 'yaml';
import type { z } from 'zod';
import { configSchema, type CaretakerConfig } from './schema';
import { interpolateEnv, InterpolationError } from './interpolate';

/** Bad configuration: the message names the file, the line when known, the path and what was expected. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

export async function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): Promise<CaretakerConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`${file}: cannot read config file (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
  }
  return parseConfigText(text, file, env);
}

export function parseConfigText(text: string, file: string, env: NodeJS.ProcessEnv = process.env): CaretakerConfig {
  let expanded: string;
  try {
    expanded = interpolateEnv(text, env, file);
  } catch (err) {
    if (err instanceof InterpolationError) throw new ConfigError([err.message]);
    throw err;
  }
  const lines = new LineCounter();
  const doc = parseDocument(expanded, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => `${file}:${lines.linePos(e.pos[0]).line}: invalid YAML: ${e.message.split('\n')[0]}`));
  }
  const raw: unknown = doc.toJS();
  const result = configSchema.safeParse(raw ?? {});
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const path = issue.path as (string | number)[];
      const node = doc.getIn(path, true);
      const line = isNode(node) && node.range ? `:${lines.linePos(node.range[0]).line}` : '';
      return `${file}${line}: ${formatPath(path)}: ${describeIssue(issue, valueAt(raw, path))}`;
    }),
  );
}

/** `tasks[2].config.retention_days` */
export function formatPath(path: readonly (string | number | symbol)[]): string {
  if (path.length === 0) return '(top level)';
  return path.map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`)).join('');
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

/** Turns a zod issue into "expected X, got Y". */
export function describeIssue(issue: z.core.$ZodIssue, received: unknown): string {
  switch (issue.code) {
    case 'invalid_type':
      return received === undefined ? `required: expected ${issue.expected}` : `expected ${issue.expected}, got ${show(received)}`;
    case 'too_small': {
      const what = issue.origin === 'number' ? 'a number' : issue.origin === 'array' ? 'a list with length' : issue.origin === 'string' ? 'text with length' : String(issue.origin);
      return `expected ${what} ${issue.inclusive ? '>=' : '>'} ${String(issue.minimum)}, got ${show(received)}`;
    }
    case 'too_big': {
      const what = issue.origin === 'number' ? 'a number' : issue.origin === 'array' ? 'a list with length' : issue.origin === 'string' ? 'text with length' : String(issue.origin);
      return `expected ${what} ${issue.inclusive ? '<=' : '<'} ${String(issue.maximum)}, got ${show(received)}`;
    }
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${show(received)}`;
    case 'unrecognized_keys':
      return `unexpected key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`;
    case 'invalid_union': {
      // Report the branch that got furthest: the first one failing for a reason other than its type.
      const branch = issue.errors.find((issues) => issues.some((i) => i.code !== 'invalid_type'));
      const inner = branch?.find((i) => i.code !== 'invalid_type');
      return inner ? describeIssue(inner, received) : `expected ${issue.message}, got ${show(received)}`;
    }
    case 'invalid_format':
      return `${issue.message}, got ${show(received)}`;
    case 'custom':
      // Caretaker's own checks write complete messages.
      return issue.message;
    default:
      return received === undefined ? issue.message : `${issue.message}, got ${show(received)}`;
  }
}
