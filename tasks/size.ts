import { z } from 'zod';
import { parseSize } from '../core/size';

/** A zod field taking a size string (or a number of bytes) and yielding bytes. */
export function size() {
  return z.union([z.number().int().min(0), z.string()]).transform((value, ctx) => {
    const bytes = typeof value === 'number' ? value : parseSize(value);
    if (bytes === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected a size like "500MB", "10GiB" or a number of bytes, got ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    return bytes;
  });
}
