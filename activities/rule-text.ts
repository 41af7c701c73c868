import type { PoolClient } from 'pg';
import { configError } from './errors';
import type { ResolvedTable } from './sql/identifiers';
import type { SqlParams } from './sql/params';

/** A rule's SQL text (conditions and value expressions) rendered for its table. */
export interface RuleTexts {
  condition(text: string, at: string): (p: SqlParams) => string;
  value(text: string, at: string): (p: SqlParams) => string;
  /** Every function the texts call is IMMUTABLE or STABLE in the live database. */
  checkFunctions(client: PoolClient): Promise<void>;
}

export function ruleTexts(table: ResolvedTable): RuleTexts {
  const refuse = (at: string): never => {
    throw configError(`${at}: SQL text on ${table.name} is not supported yet`);
  };
  return { condition: (_t, at) => refuse(at), value: (_t, at) => refuse(at), checkFunctions: async () => undefined };
}
