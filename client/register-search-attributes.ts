import type { ConnectionLike } from '@temporalio/client';
import { CARETAKER_SEARCH_ATTRIBUTES } from '../core/search-attributes';

/** temporal.api.enums.v1.IndexedValueType, for the kinds Caretaker uses. */
const INDEXED_VALUE_TYPE = { KEYWORD: 2, INT: 3, BOOL: 5 } as const;
const TYPE_NAMES: Record<number, string> = { 1: 'Text', 2: 'Keyword', 3: 'Int', 4: 'Double', 5: 'Bool', 6: 'Datetime', 7: 'KeywordList' };

export interface RegistrationResult {
  added: string[];
  existing: string[];
}

/** Where the operator service is not ours to use (Temporal Cloud), what to run instead. */
export function cloudHint(namespace: string): string {
  const flags = CARETAKER_SEARCH_ATTRIBUTES.map((k) => `--sa '${k.name}=${TYPE_NAMES[INDEXED_VALUE_TYPE[k.type as keyof typeof INDEXED_VALUE_TYPE]]}'`).join(
    ' ',
  );
  return `On Temporal Cloud, add them in the Cloud UI (Namespace -> Custom Search Attributes) or with: tcld namespace search-attributes add -n ${namespace} ${flags}`;
}

/**
 * Registers Caretaker's search attributes in a namespace through the operator service. Idempotent:
 * attributes already there with the right type are left alone; one there with another type is an
 * error naming both types, since every run would fail to record its outcome.
 */
export async function registerSearchAttributes(connection: ConnectionLike, namespace: string): Promise<RegistrationResult> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const have = (customAttributes ?? {}) as Record<string, number>;
  const added: string[] = [];
  const existing: string[] = [];
  const missing: Record<string, number> = {};
  for (const key of CARETAKER_SEARCH_ATTRIBUTES) {
    const want = INDEXED_VALUE_TYPE[key.type as keyof typeof INDEXED_VALUE_TYPE];
    const got = have[key.name];
    if (got === undefined) {
      missing[key.name] = want;
      added.push(key.name);
    } else if (Number(got) !== want) {
      throw new Error(
        `search attribute ${key.name} exists in namespace ${namespace} as ${TYPE_NAMES[Number(got)] ?? got}; Caretaker needs ${TYPE_NAMES[want]}. Remove it (temporal operator search-attribute remove --name ${key.name}) and run caretaker setup again.`,
      );
    } else existing.push(key.name);
  }
  if (added.length) await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
  return { added, existing };
}
