import type { PoolClient, QueryResult } from 'pg';

/** A node of `EXPLAIN (FORMAT JSON, VERBOSE)`'s plan, with the fields the check reads. */
export interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  Schema?: string;
  'Plan Rows': number;
  'Index Name'?: string;
  'Index Cond'?: string;
  Filter?: string;
  Plans?: PlanNode[];
}

const EXPLAINABLE = /^\s*(select|with|insert|update|delete|values)\b/i;

/** The plan of one statement, without running it (no ANALYZE). */
export async function explain(client: PoolClient, text: string, values: unknown[] = []): Promise<PlanNode> {
  const { rows } = await client.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(`explain (format json, verbose) ${text}`, values);
  return rows[0]!['QUERY PLAN'][0]!.Plan;
}

/**
 * `client` whose queries are explained instead of run: a unit's own `nextBatch` called on it
 * yields the plans of exactly the statements a real first batch runs, and returns no rows.
 * Anything that is not a query (a `set local`) runs as it is, inside the caller's read-only transaction.
 */
export function explainingClient(client: PoolClient, plans: PlanNode[]): PoolClient {
  const query = async (text: unknown, values?: unknown[]): Promise<Partial<QueryResult>> => {
    if (typeof text !== 'string') throw new Error('caretaker check: expected a query as text');
    if (!EXPLAINABLE.test(text)) return client.query(text, values);
    plans.push(await explain(client, text, values));
    return { rows: [], rowCount: 0, fields: [] };
  };
  return new Proxy(client, { get: (target, prop, receiver) => (prop === 'query' ? query : Reflect.get(target, prop, receiver)) });
}

/** Every node of a plan, depth first. */
export function planNodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(planNodes)];
}

/** The planner's estimate of the rows `select from <table> t where <condition>` returns. */
export async function estimatedRows(client: PoolClient, from: string, condition: string, values: unknown[]): Promise<number> {
  return (await explain(client, `select from ${from} t where ${condition}`, values))['Plan Rows'];
}
