/**
 * Environment interpolation for config files: `${VAR}`, `${VAR:-default}` and `$$` for a literal `$`.
 * A `${VAR}` without a default whose variable is unset is an error naming the variable and line.
 *
 * It runs where the config is loaded (the CLI, `schedules sync`, `npm start`), and the value becomes
 * part of the task's config, which Temporal stores in plain text in the schedule and in every run's
 * history. It is for settings, not secrets: a secret is named in config (`url_env: REDIS_URL`) and
 * read by the worker from its own environment (activities/secrets.ts), as database URLs are.
 */
const PATTERN = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export class InterpolationError extends Error {}

export function interpolateEnv(text: string, env: NodeJS.ProcessEnv, file: string): string {
  return text
    .split('\n')
    .map((line, index) =>
      line.replace(PATTERN, (match, name: string | undefined, fallback: string | undefined) => {
        if (match === '$$') return '$';
        const value = env[name!];
        if (value !== undefined && value !== '') return value;
        if (fallback !== undefined) return fallback;
        throw new InterpolationError(
          `${file}:${index + 1}: environment variable ${name} is not set (write \${${name}:-default} to give a default)`,
        );
      }),
    )
    .join('\n');
}
