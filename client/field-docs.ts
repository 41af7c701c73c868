/**
 * A task type's config fields as a reference: every field of every object, array item and rule
 * kind, flattened from the JSON Schema zod makes of the task's config schema. Pure.
 */

type Schema = Record<string, unknown>;

export interface FieldDoc {
  /** `policies[].children[].table`; a rule kind's fields carry it: `rules[kind=missing_file].path`. */
  field: string;
  /** `string`, `integer|object`, `list of objects`, `"delete"|"mark"|"archive"`, … */
  type: string;
  /** `required`, `required per item`, `required if policies[].mark is set`; absent: optional. */
  required?: string;
  default?: unknown;
}

const variantsOf = (s: Schema): Schema[] => ((s.anyOf ?? s.oneOf) as Schema[] | undefined) ?? [];
const isObject = (s: Schema): boolean => s.type === 'object' && s.properties !== undefined;

/** The discriminating `const` of an object variant (`kind: "missing_file"`), if it has one. */
function discriminant(s: Schema): string | undefined {
  for (const [name, prop] of Object.entries((s.properties ?? {}) as Record<string, Schema>)) {
    if (prop.const !== undefined && typeof prop.const === 'string') return `${name}=${prop.const}`;
  }
  return undefined;
}

/** One line of type text for a schema node. */
export function typeText(s: Schema): string {
  if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join('|');
  if (s.const !== undefined) return JSON.stringify(s.const);
  const variants = variantsOf(s);
  if (variants.length) return [...new Set(variants.map(typeText))].join('|');
  if (Array.isArray(s.type)) return s.type.join('|');
  if (s.type === 'array') {
    const items = (s.items ?? {}) as Schema;
    return isObject(items) || variantsOf(items).some(isObject) ? 'list of objects' : `list of ${typeText(items)}`;
  }
  if (s.type === 'object' && !s.properties && s.additionalProperties && typeof s.additionalProperties === 'object') {
    return `map of ${typeText(s.additionalProperties as Schema)}`;
  }
  return String(s.type ?? 'value');
}

/**
 * Flattens an object schema. `within` says when a required field is required: always (undefined),
 * `per item` of a list, `if mark is set`.
 */
export function fieldDocs(schema: Schema, prefix = '', within?: string): FieldDoc[] {
  const props = (schema.properties ?? {}) as Record<string, Schema>;
  const required = new Set((schema.required as string[] | undefined) ?? []);
  return Object.entries(props).flatMap(([name, prop]) => {
    const field = `${prefix}${name}`;
    const doc: FieldDoc = { field, type: typeText(prop) };
    if (required.has(name) && prop.default === undefined) doc.required = within ? `required ${within}` : 'required';
    if (prop.default !== undefined) doc.default = prop.default;
    // An object without fields of its own (`report: {}`) is listed itself.
    const empty = isObject(prop) && Object.keys(prop.properties as Schema).length === 0;
    return [...(isObject(prop) && !empty ? [] : [doc]), ...nested(prop, field)];
  });
}

/** The fields inside a field: an object's, an array item's, each object variant's. */
function nested(prop: Schema, field: string): FieldDoc[] {
  if (isObject(prop)) return fieldDocs(prop, `${field}.`, `if ${field} is set`);
  // A map's values: their fields under `<name>` (`update.<name>.value`).
  if (prop.type === 'object' && prop.additionalProperties && typeof prop.additionalProperties === 'object') {
    return nested(prop.additionalProperties as Schema, `${field}.<name>`);
  }
  if (prop.type === 'array') {
    const items = (prop.items ?? {}) as Schema;
    if (isObject(items)) return fieldDocs(items, `${field}[].`, 'per item');
    return variantsOf(items)
      .filter(isObject)
      .flatMap((v) => {
        const kind = discriminant(v);
        const where = kind ? `${field}[${kind}]` : `${field}[]`;
        return fieldDocs(v, `${where}.`, 'per item').filter((d) => !kind || d.field !== `${where}.${kind.split('=')[0]}`);
      });
  }
  return variantsOf(prop)
    .filter(isObject)
    .flatMap((v) => fieldDocs(v, `${field}.`, `if ${field} is an object`));
}
