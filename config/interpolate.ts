import { randomBytes } from 'node:crypto';

/**
 * Environment interpolation for config files: `${VAR}`, `${VAR:-default}` and `$$` for a literal `$`.
 * A `${VAR}` without a default whose variable is unset is an error naming the variable and line.
 *
 * A variable's value is never YAML: before parsing, each `${...}` and `$$` becomes a placeholder
 * that reads as plain text anywhere, and after parsing only the scalar values that hold one get the
 * value (config/yaml-env.ts). So a value cannot add keys, lists or comments, and a `${VAR}` in a
 * comment is never read.
 *
 * It runs where the config is loaded (the CLI, `schedules sync`, `npm start`), and the value becomes
 * part of the task's config, which Temporal stores in plain text in the schedule and in every run's
 * history. It is for settings, not secrets: a secret is named in config (`url_env: REDIS_URL`) and
 * read by the worker from its own environment (activities/engine/secrets.ts), as database URLs are.
 */
const PATTERN = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}\n]*))?\}/g;

export class InterpolationError extends Error {}

/** One `${...}` (or `$$`) of the file, as written. */
interface Reference {
  text: string;
  name?: string;
  fallback?: string;
}

/** The file's `${...}` and `$$`, swapped for placeholders before parsing and expanded in scalars after. */
export class EnvPlaceholders {
  private readonly references: Reference[] = [];
  private readonly tag = `__caretaker_env_${randomBytes(6).toString('hex')}_`;
  private readonly placeholder = new RegExp(`${this.tag}(\\d+)__`, 'g');

  /** The text with every reference replaced by a placeholder that YAML reads as plain text. */
  mask(text: string): string {
    return text.replace(PATTERN, (match, name: string | undefined, fallback: string | undefined) => {
      this.references.push({ text: match, name, fallback });
      return `${this.tag}${this.references.length - 1}__`;
    });
  }

  holdsReference(value: string): boolean {
    return value.includes(this.tag);
  }

  /** `value` as written in the file, placeholders back to `${...}` (for messages). */
  original(value: string): string {
    return value.replace(this.placeholder, (_m, i: string) => this.references[Number(i)]!.text);
  }

  /** `value` with each reference replaced by the environment's value; `where` names the line for an unset variable. */
  expand(value: string, env: NodeJS.ProcessEnv, where: string): string {
    return value.replace(this.placeholder, (_m, i: string) => resolveReference(this.references[Number(i)]!, env, where));
  }
}

function resolveReference(ref: Reference, env: NodeJS.ProcessEnv, where: string): string {
  if (ref.name === undefined) return '$';
  const value = env[ref.name];
  if (value !== undefined && value !== '') return value;
  if (ref.fallback !== undefined) return ref.fallback;
  throw new InterpolationError(`${where}: environment variable ${ref.name} is not set (write \${${ref.name}:-default} to give a default)`);
}

/** One string with `${VAR}`, `${VAR:-default}` and `$$` replaced; the whole string is the value (no YAML). */
export function interpolateEnv(text: string, env: NodeJS.ProcessEnv, where: string): string {
  const placeholders = new EnvPlaceholders();
  return placeholders.expand(placeholders.mask(text), env, where);
}
