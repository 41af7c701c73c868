import { readFile } from 'node:fs/promises';
import { type Document, LineCounter, parseDocument, isNode } from 'yaml';
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
  if (doc.contents === null) throw new ConfigError([`${file}:1: file is empty: expected a mapping with tasks: [...]`]);
  const raw: unknown = doc.toJS();
  const result = configSchema.safeParse(raw);
  if (result.success) return result.data;
  const located = explainIssues(result.error.issues, raw).map((problem) => ({ ...problem, line: lineOf(doc, lines, problem.path) }));
  // In file order: zod reports a field's own checks before its mapping's cross-field checks.
  located.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
  throw new ConfigError(located.map(({ path, message, line }) => `${file}${line ? `:${line}` : ''}: ${formatPath(path)}: ${message}`));
}

/**
 * The line of the node at `path`, or of the nearest enclosing node that is in the file: a missing
 * key is reported at the mapping that should hold it (the task item's line for `tasks[0].type`).
 */
function lineOf(doc: Document, lines: LineCounter, path: readonly (string | number)[]): number | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
    if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
  }
  return undefined;
}

/** Each problem as its config path and "expected ..., got ..." (unions reported by the branch that got furthest). */
export function explainIssues(issues: readonly z.core.$ZodIssue[], root: unknown): { path: (string | number)[]; message: string }[] {
  return issues.flatMap((issue) => {
    const path = issue.path as (string | number)[];
    if (issue.code === 'invalid_union') {
      const branch = issue.errors.find((inner) => inner.some((i) => i.code !== 'invalid_type' || i.path.length > 0));
      if (branch) return explainIssues(branch.map((i) => ({ ...i, path: [...path, ...i.path] })), root);
    }
    return [{ path, message: describeIssue(issue, valueAt(root, path)) }];
  });
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
      if (inner) return describeIssue(inner, received);
      const expected = issue.errors.flatMap((issues) => issues.flatMap((i) => (i.code === 'invalid_type' ? [i.expected] : [])));
      return `expected ${[...new Set(expected)].join(' or ') || issue.message}, got ${show(received)}`;
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
