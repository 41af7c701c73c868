import { CARETAKER_SEARCH_ATTRIBUTES } from '../core/search-attributes';

/** Every message of an error's chain, gRPC details included: the SDK's own ("Failed to start Workflow") says little. */
function chainText(err: unknown): string {
  const parts: string[] = [];
  for (let e = err as { message?: string; details?: unknown; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.message) parts.push(e.message);
    if (typeof e.details === 'string') parts.push(e.details);
  }
  return parts.join('; ');
}

/**
 * When Temporal refused to start a run or create a schedule because one of Caretaker's search
 * attributes is not registered in the namespace: which one, and the fix (`caretaker setup`).
 * Undefined for any other error.
 */
export function missingSearchAttributeMessage(err: unknown, namespace: string): string | undefined {
  const text = chainText(err);
  if (!/search attribute/i.test(text)) return undefined;
  const named = CARETAKER_SEARCH_ATTRIBUTES.map((k) => k.name).find((name) => text.includes(name));
  if (!named) return undefined;
  return (
    `Temporal namespace "${namespace}" has no search attribute ${named}: every Caretaker run carries ` +
    `${CARETAKER_SEARCH_ATTRIBUTES.map((k) => k.name).join(', ')}, and they must be registered first. ` +
    `Run \`caretaker setup\` once for this namespace, then try again. (Temporal said: ${text})`
  );
}
