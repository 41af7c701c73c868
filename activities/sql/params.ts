/**
 * Collects query parameters while SQL is assembled, so fragments built in different places number
 * their placeholders correctly. Values are always sent as parameters, never pasted into SQL.
 */
export class SqlParams {
  readonly values: unknown[] = [];

  /** Adds a value and returns its placeholder, cast when a type is given (`$3::bigint[]`). */
  add(value: unknown, cast?: string): string {
    this.values.push(value);
    return cast ? `$${this.values.length}::${cast}` : `$${this.values.length}`;
  }
}
