import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { fieldDocs } from '../client/field-docs';
import { builtinCatalog } from '../tasks';
import { caretaker } from './cli';

/** The reference `caretaker tasks <type>` prints, from the real catalog's schemas. */
function docsOf(type: string) {
  const schema = z.toJSONSchema(builtinCatalog.find(type)!.configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return new Map(fieldDocs(schema).map((d) => [d.field, d]));
}

describe('caretaker tasks: every field of every list item and rule kind', () => {
  it('list items, nested lists and optional objects, each with when it is required', () => {
    const docs = docsOf('retention.enforce');
    expect(docs.get('policies')).toMatchObject({ type: 'list of objects', required: 'required' });
    expect(docs.get('policies[].table')).toMatchObject({ type: 'string', required: 'required per item' });
    expect(docs.get('policies[].action')).toEqual({ field: 'policies[].action', type: '"delete"|"mark"|"archive"', default: 'delete' });
    expect(docs.get('policies[].children[].column')).toMatchObject({ type: 'string|list of string', required: 'required per item' });
    expect(docs.get('policies[].mark.column')).toMatchObject({ required: 'required if policies[].mark is set' });
    expect(docs.get('policies[].mark.value')?.required).toBeUndefined();
    expect(docs.get('batch_size')).toMatchObject({ type: 'integer|object' });
    expect(docs.get('batch_size.target')).toMatchObject({ default: '250ms' });
  });

  it('rule kinds by their discriminant, each with its own fields and defaults', () => {
    const docs = docsOf('assets.detect_orphans');
    expect(docs.get('rules[kind=stuck_pending].max_retries')).toMatchObject({ type: 'integer', default: 3 });
    expect(docs.get('rules[kind=missing_file].base_dir')).toMatchObject({ required: 'required per item' });
    expect(docs.get('rules[kind=orphan_file].action')).toMatchObject({ type: '"report"|"delete"' });
    expect(docs.has('rules[kind=missing_file].kind')).toBe(false);
  });

  it('rows.rules: first_per and acquire, each field with when it is required and its default', () => {
    const docs = docsOf('rows.rules');
    expect(docs.get('rules[].first_per.columns')).toMatchObject({ type: 'string|list of string', required: 'required if rules[].first_per is set' });
    expect(docs.get('rules[].first_per.order_by')).toMatchObject({ type: 'list of string', default: [] });
    for (const f of ['table', 'column', 'parent_column'])
      expect(docs.get(`rules[].acquire.${f}`)).toMatchObject({ required: 'required if rules[].acquire is set' });
    expect(docs.get('rules[].acquire.insert')).toMatchObject({ default: {} });
    expect(docs.get('rules[].acquire.when')).toMatchObject({ type: 'string' });
    expect(docs.get('rules[].acquire.when')?.required).toBeUndefined();
    expect(docs.has('rules[].acquire.update')).toBe(true);
  });

  it('a type family by its prefix; no array shows as a bare "array (required)"', async () => {
    const { code, out } = await caretaker('tasks', 'runs');
    expect(code).toBe(0);
    expect(out).toContain('runs.cleanup_stale');
    expect(out).toContain('runs.cleanup_expired');
    expect(out).not.toContain('retention.enforce');
    const all = await caretaker('tasks');
    expect(all.out).not.toMatch(/\barray\b/);
    expect(await caretaker('tasks', 'retentio')).toMatchObject({ code: 2, err: expect.stringContaining('did you mean "retention"?') });
  });
});
