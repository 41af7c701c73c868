import { type Document, isScalar, type LineCounter, type Node, Scalar, visit } from 'yaml';
import { type EnvPlaceholders, InterpolationError } from './interpolate';

/**
 * Puts the environment's values into the parsed document's scalar values that hold a placeholder
 * (config/interpolate.ts). A quoted value stays text. An unquoted one is read as YAML reads an
 * unquoted scalar, so `max_retries: ${MAX_RETRIES:-3}` is the number 3 and `${FLAG:-true}` a
 * boolean; it never becomes a list, a mapping or a comment. Keys are not interpolated.
 * Returns the problems, each with the file and line.
 */
export function expandEnvInDocument(doc: Document, placeholders: EnvPlaceholders, lines: LineCounter, file: string, env: NodeJS.ProcessEnv): string[] {
  const problems: string[] = [];
  const where = (node: Node) => `${file}:${node.range ? lines.linePos(node.range[0]).line : 1}`;
  visit(doc, {
    Scalar(key, node) {
      if (typeof node.value !== 'string' || !placeholders.holdsReference(node.value)) return;
      if (key === 'key') {
        problems.push(`${where(node)}: ${JSON.stringify(placeholders.original(node.value))}: \${...} and $$ are read in values only, not in keys`);
        return;
      }
      try {
        const text = placeholders.expand(node.value, env, where(node));
        node.value = node.type === Scalar.PLAIN ? resolvePlainScalar(doc, text) : text;
      } catch (err) {
        if (!(err instanceof InterpolationError)) throw err;
        problems.push(err.message);
      }
    },
  });
  return problems;
}

/** What YAML's schema makes of `text` written unquoted, as a single scalar: a number, boolean, null or the text itself. */
function resolvePlainScalar(doc: Document, text: string): unknown {
  for (const tag of doc.schema.tags) {
    if ('collection' in tag && tag.collection) continue;
    if (tag.default === true && 'test' in tag && tag.test?.test(text)) {
      const value = tag.resolve(text, () => undefined, doc.options);
      return isScalar(value) ? value.value : value; // floats come back as a node that keeps their format
    }
  }
  return text;
}
