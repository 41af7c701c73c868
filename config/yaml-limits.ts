import { type CST, type Document, isAlias, isMap, isScalar, isSeq, type LineCounter, type Node } from 'yaml';

/**
 * Bounds on the work a config file can ask of the parser: far above any real config, so that a
 * malformed or hostile file is refused with its line in well under a second instead of running for
 * minutes (the YAML composer recurses once per nesting level, and aliases multiply values).
 */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** Collections inside collections; a real config nests about ten deep. */
export const MAX_NESTING = 64;
/** Alias nodes (`*name`) in one file. */
export const MAX_ALIASES = 1_000;
/** Values that aliases add, counted with the values inside each aliased node (an alias bomb adds billions). */
export const MAX_ALIAS_VALUES = 100_000;

/** The offset of the first collection nested deeper than MAX_NESTING in the parser's tokens, or undefined. Iterative: no recursion per level. */
export function tooDeep(tokens: readonly CST.Token[]): number | undefined {
  const stack: [CST.Token, number][] = tokens.map((t) => [t, 0]);
  while (stack.length > 0) {
    const [token, depth] = stack.pop()!;
    if (token.type === 'document' && token.value) stack.push([token.value, depth]);
    if (token.type !== 'block-map' && token.type !== 'block-seq' && token.type !== 'flow-collection') continue;
    if (depth + 1 > MAX_NESTING) return token.offset;
    for (const item of token.items) {
      if ('key' in item && item.key) stack.push([item.key, depth + 1]);
      if (item.value) stack.push([item.value, depth + 1]);
    }
  }
  return undefined;
}

class LimitExceeded extends Error {}

/**
 * Aliases that name no anchor before them or the node they sit in, more aliases or alias values than
 * the limits allow, and keys written twice in one mapping (a linear check: the YAML library's own
 * compares each key with every earlier one). Each problem with the file and line.
 */
export function documentProblems(doc: Document, lines: LineCounter, file: string): string[] {
  const problems: string[] = [];
  const at = (node: Node) => `${file}:${node.range ? lines.linePos(node.range[0]).line : 1}`;
  const anchors = new Map<string, Node>();
  const sizes = new Map<Node, number>();
  const open = new Set<Node>();
  let aliases = 0;
  let added = 0;

  const size = (node: unknown): number => {
    if (isAlias(node)) {
      if (++aliases > MAX_ALIASES) {
        problems.push(`${at(node)}: more than ${MAX_ALIASES} aliases (*name): expected a config that repeats a few shared blocks`);
        throw new LimitExceeded();
      }
      const target = anchors.get(node.source);
      const problem = !target
        ? `alias *${node.source}: expected an anchor &${node.source} before it`
        : open.has(target)
          ? `alias *${node.source} is inside the node it names: expected it outside`
          : undefined;
      if (problem) {
        problems.push(`${at(node)}: ${problem}`);
        return 1;
      }
      added += sizes.get(target!) ?? 1;
      if (added > MAX_ALIAS_VALUES) {
        problems.push(`${at(node)}: aliases (*name) expand to more than ${MAX_ALIAS_VALUES} values: expected a config that repeats a few shared blocks`);
        throw new LimitExceeded();
      }
      return sizes.get(target!) ?? 1;
    }
    if (!isScalar(node) && !isMap(node) && !isSeq(node)) return 0;
    if (node.anchor) anchors.set(node.anchor, node);
    open.add(node);
    let total = 1;
    if (isMap(node)) {
      const seen = new Map<string, number>();
      for (const pair of node.items) {
        if (isScalar(pair.key)) {
          const key = String(pair.key.value);
          const line = lines.linePos(pair.key.range?.[0] ?? 0).line;
          const first = seen.get(key);
          if (first !== undefined)
            problems.push(`${file}:${line}: ${JSON.stringify(key)}: expected each key once in a mapping, got it again (first on line ${first})`);
          else seen.set(key, line);
        }
        total += size(pair.key) + size(pair.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) total += size(item);
    }
    open.delete(node);
    if (node.anchor) sizes.set(node, total);
    return total;
  };

  try {
    size(doc.contents);
  } catch (err) {
    if (!(err instanceof LimitExceeded)) throw err;
  }
  return problems;
}
