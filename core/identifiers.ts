/**
 * A name PostgreSQL accepts unquoted (its scanner's identifier rule): a letter, `_` or any
 * non-ASCII character (every byte >= 0x80 counts as a letter), then also digits and `$`. So
 * `jöbs_日本` is a name here as it is in SQL. Names are still checked in the catalog and quoted.
 */
export const IDENTIFIER = '[A-Za-z_\\u0080-\\uFFFF][A-Za-z0-9_$\\u0080-\\uFFFF]*';

/** `name` alone, or `schema.name`. */
export const QUALIFIED_NAME = new RegExp(`^${IDENTIFIER}(\\.${IDENTIFIER})?$`);

/** Double-quotes one identifier part, doubling embedded quotes (PostgreSQL's quote_ident rule). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
