import { open } from 'node:fs/promises';
import type { z } from 'zod';
import { configSchema, type CaretakerConfig } from './schema';
import { ConfigError } from './config-error';
import { EnvPlaceholders } from './interpolate';
import { expandEnvInDocument } from './yaml-env';
import { MAX_CONFIG_BYTES } from './yaml-limits';
import { NodeLines } from './yaml-lines';
import { parseYamlDocument } from './yaml-parse';
import { loadSqlParser } from '../tasks/sql-text';

export { ConfigError };

export async function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): Promise<CaretakerConfig> {
  // SQL expression text in rules is checked while the schema parses (synchronously); its parser loads once, here.
  const parser = loadSqlParser();
  let text: string;
  try {
    text = await readAtMost(file, MAX_CONFIG_BYTES);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError([`${file}: cannot read config file (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
  }
  await parser;
  return parseConfigText(text, file, env);
}

/** The file's text, refused past `limit` bytes without reading further (a device or pipe may never end). */
async function readAtMost(file: string, limit: number): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(limit + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, limit + 1 - length);
      length += bytesRead;
      if (bytesRead === 0 || length > limit) break;
    }
    if (length > limit) throw oversized(file, (await handle.stat()).size || length);
    return buffer.toString('utf8', 0, length);
  } finally {
    await handle.close();
  }
}

/** Parses config text; SQL expression text in it needs `await loadSqlParser()` first (`loadConfigFile` does that). */
export function parseConfigText(text: string, file: string, env: NodeJS.ProcessEnv = process.env): CaretakerConfig {
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_CONFIG_BYTES) throw oversized(file, bytes);
  const placeholders = new EnvPlaceholders();
  const { doc, lines } = parseYamlDocument(placeholders.mask(text), file);
  if (doc.contents === null) throw new ConfigError([`${file}:1: file is empty: expected a mapping with tasks: [...]`]);
  const envProblems = expandEnvInDocument(doc, placeholders, lines, file, env);
  if (envProblems.length > 0) throw new ConfigError(envProblems);
  // documentProblems (in parseYamlDocument) bounded the aliases; the library's own count refuses an anchor used 101 times.
  const raw: unknown = doc.toJS({ maxAliasCount: -1 });
  const result = configSchema.safeParse(raw);
  if (result.success) return result.data;
  const nodeLines = new NodeLines(doc, lines);
  const located = explainIssues(result.error.issues, raw).map((problem) => ({ ...problem, line: nodeLines.lineOf(problem.path) }));
  // In file order: zod reports a field's own checks before its mapping's cross-field checks.
  located.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
  throw new ConfigError(located.map(({ path, message, line }) => `${file}${line ? `:${line}` : ''}: ${formatPath(path)}: ${message}`));
}

function oversized(file: string, bytes: number): ConfigError {
  return new ConfigError([`${file}: ${bytes} bytes: expected a config file of at most ${MAX_CONFIG_BYTES} bytes (1 MiB)`]);
}

/** Each problem as its config path and "expected ..., got ..." (unions reported by the branch that got furthest). */
export function explainIssues(issues: readonly z.core.$ZodIssue[], root: unknown): { path: (string | number)[]; message: string }[] {
  return issues.flatMap((issue) => {
    const path = issue.path as (string | number)[];
    if (issue.code === 'invalid_union') {
      const branch = issue.errors.find((inner) => inner.some((i) => i.code !== 'invalid_type' || i.path.length > 0));
      if (branch)
        return explainIssues(
          branch.map((i) => ({ ...i, path: [...path, ...i.path] })),
          root,
        );
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
      const what =
        issue.origin === 'number'
          ? 'a number'
          : issue.origin === 'array'
            ? 'a list with length'
            : issue.origin === 'string'
              ? 'text with length'
              : String(issue.origin);
      return `expected ${what} ${issue.inclusive ? '>=' : '>'} ${String(issue.minimum)}, got ${show(received)}`;
    }
    case 'too_big': {
      const what =
        issue.origin === 'number'
          ? 'a number'
          : issue.origin === 'array'
            ? 'a list with length'
            : issue.origin === 'string'
              ? 'text with length'
              : String(issue.origin);
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
