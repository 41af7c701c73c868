import { type Document, isMap, isNode, isScalar, isSeq, type LineCounter, type Pair } from 'yaml';

/**
 * The line of the node at a config path, or of the nearest enclosing node that is in the file: a
 * missing key is reported at the mapping that should hold it (the task item's line for
 * `tasks[0].type`). Each mapping's keys are indexed once, so a file with many problems in one large
 * mapping is located in linear time.
 */
export class NodeLines {
  private readonly keys = new WeakMap<object, Map<string, Pair>>();

  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  lineOf(path: readonly (string | number)[]): number | undefined {
    let node: unknown = this.doc.contents;
    let line = this.lineAt(node);
    for (const part of path) {
      if (isMap(node)) node = this.keyIndex(node).get(String(part))?.value;
      else if (isSeq(node) && typeof part === 'number') node = node.items[part];
      else break;
      line = this.lineAt(node) ?? line;
    }
    return line;
  }

  private lineAt(node: unknown): number | undefined {
    return isNode(node) && node.range ? this.lines.linePos(node.range[0]).line : undefined;
  }

  private keyIndex(map: { items: Pair[] }): Map<string, Pair> {
    let index = this.keys.get(map);
    if (!index) {
      index = new Map();
      for (const pair of map.items) if (isScalar(pair.key) && !index.has(String(pair.key.value))) index.set(String(pair.key.value), pair);
      this.keys.set(map, index);
    }
    return index;
  }
}
