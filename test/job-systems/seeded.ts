import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Pool } from 'pg';
import { parse as parseYaml } from 'yaml';
import { parseConfigText } from '../../config/load';
import { configWarnings } from '../../config/warnings';
import type { Task } from '../zoo/run';

/**
 * Que, Procrastinate and django-celery-results: each system's tables (test/job-systems/<system>.sql,
 * from its own migrations or schema), its seed apart (<system>-seed.sql) and its own cleanup and
 * rescue rules as a Caretaker config (<system>.yaml). test/job-systems-{que,procrastinate,celery-results}.test.ts.
 */
export type System = 'que' | 'procrastinate' | 'django-celery-results';

const file = (name: string) => readFile(join(__dirname, name), 'utf8');

/** The public schema emptied, then the system's tables and its seed, in one transaction. */
export async function loadSystem(pool: Pool, system: System): Promise<void> {
  const sql = `begin; drop schema public cascade; create schema public;\n${await file(`${system}.sql`)}\n${await file(`${system}-seed.sql`)}\ncommit;`;
  await pool.query(sql);
}

/** The system's config file through the real config path (what `caretaker validate` reads), its warnings, and one task of it (the first by default). */
export async function systemConfig(system: System, id?: string): Promise<{ task: Task; warnings: string[] }> {
  const text = await file(`${system}.yaml`);
  const config = parseConfigText(text, `test/job-systems/${system}.yaml`, {});
  const tasks = (parseYaml(text) as { tasks: Task[] }).tasks;
  const raw = id === undefined ? tasks[0] : tasks.find((t) => t.id === id);
  if (!raw) throw new Error(`expected a task ${id} in test/job-systems/${system}.yaml`);
  return { task: { id: raw.id, type: raw.type, config: raw.config }, warnings: configWarnings(config) };
}

/** The same task with only the named rules, in the config's order. */
export function onlyRules(task: Task, names: string[]): Task {
  const rules = (task.config.rules as { name: string }[]).filter((r) => names.includes(r.name));
  if (rules.length !== names.length) throw new Error(`expected rules ${names.join(', ')} in ${task.id}`);
  return { ...task, id: `${task.id}-${names.join('-')}`, config: { ...task.config, rules } };
}

/** Keys as the row snapshots (test/zoo/snapshot.ts) name them: the primary key as text. */
export const keys = (...ids: number[]) => ids.map(String);
