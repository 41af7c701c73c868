import { configError } from '../../core/errors';

/**
 * Secrets named in config (`url_env: REDIS_URL`), read from the worker's environment when the
 * activity runs. Only the name travels in schedules and run inputs (Temporal's history); the value
 * stays in the worker. Messages name the variable and never show its value, because failures and
 * results are stored in the history too; `scrub` removes the values from anything a run reports
 * (e.g. fetch's "Request cannot be constructed from a URL that includes credentials: <url>").
 */
export class WorkerSecrets {
  /** Every value read, with its variable's name, for `scrub`. */
  private readonly read: { name: string; value: string }[] = [];

  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  /** The value of `name`; a non-retryable config error at `path` when the worker does not set it. */
  get(name: string, path: string): string {
    const value = this.env[name];
    if (!value) throw configError(`${path}: expected the worker's environment to set ${name}, got nothing; set it where the worker runs`);
    this.read.push({ name, value });
    return value;
  }

  /** A secret that must be a URL with one of `protocols` (e.g. `['https:', 'http:']`). */
  url(name: string, path: string, protocols: readonly string[]): string {
    const value = this.get(name, path);
    const expected = protocols.map((p) => `${p}//`).join(' or ');
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw configError(`${path}: expected ${name} on the worker to hold a ${expected} URL, got text that is not a URL (value not shown)`);
    }
    if (!protocols.includes(url.protocol))
      throw configError(`${path}: expected ${name} on the worker to hold a ${expected} URL, got one starting ${url.protocol}//`);
    this.read.push({ name, value: url.href }); // the normalised form, as error messages may print it
    return value;
  }

  /** `text` with every secret read so far replaced by `$NAME`. */
  scrub(text: string): string {
    let out = text;
    for (const { name, value } of this.read) out = out.split(value).join(`$${name}`);
    return out;
  }
}
