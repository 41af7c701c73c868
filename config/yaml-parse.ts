import { Composer, type Document, LineCounter, Parser } from 'yaml';
import { ConfigError } from './config-error';
import { documentProblems, MAX_NESTING, tooDeep } from './yaml-limits';

/**
 * The file's single YAML document with its line counter, or a ConfigError whose problems each name
 * the file and line: YAML syntax, nesting deeper than MAX_NESTING
 * (checked on the parser's tokens, before the recursive composer runs), aliases, repeated keys.
 */
export function parseYamlDocument(text: string, file: string): { doc: Document; lines: LineCounter } {
  const lines = new LineCounter();
  const tokens = [...new Parser(lines.addNewLine).parse(text)];
  const deep = tooDeep(tokens);
  if (deep !== undefined) {
    throw new ConfigError([`${file}:${lines.linePos(deep).line}: collections nested more than ${MAX_NESTING} deep: expected a config nested a few levels`]);
  }
  // As parseDocument does, with a linear check for repeated keys instead of the composer's (documentProblems).
  const docs = new Composer({ prettyErrors: false, uniqueKeys: false }).compose(tokens, true, text.length);
  const doc = docs.next().value as Document;
  const errors = doc.errors.map((e) => `${file}:${lines.linePos(e.pos[0]).line}: invalid YAML: ${e.message.split('\n')[0]}`);
  const second = docs.next().value as Document | undefined;
  if (second) errors.push(`${file}:${lines.linePos(second.range?.[0] ?? 0).line}: invalid YAML: a second document ("---"): expected one document`);
  if (errors.length > 0) throw new ConfigError(errors);
  const problems = documentProblems(doc, lines, file);
  if (problems.length > 0) throw new ConfigError(problems);
  return { doc, lines };
}
