import { z } from 'zod';
import { formatDuration, parseDuration } from '../core/duration';

/** A zod field that takes a duration string and yields milliseconds. */
export function duration(opts: { min?: number; max?: number } = {}) {
  const min = opts.min ?? 0;
  const max = opts.max ?? Infinity;
  return z.string().transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected a duration like "30s", "15m", "2h" or "7d", got ${JSON.stringify(text)}` });
      return z.NEVER;
    }
    if (ms < min) {
      ctx.addIssue({ code: 'custom', message: `expected a duration >= ${formatDuration(min)}, got ${JSON.stringify(text)}` });
      return z.NEVER;
    }
    if (ms > max) {
      ctx.addIssue({ code: 'custom', message: `expected a duration <= ${formatDuration(max)}, got ${JSON.stringify(text)}` });
      return z.NEVER;
    }
    return ms;
  });
}
