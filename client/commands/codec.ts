import { once } from 'node:events';
import { createCodecServer } from '../codec-server';
import { codecFromEnv } from '../../config/codec';
import { type CliContext, UsageError } from '../context';

/** `caretaker codec-server [--port 8089] [--cors-origin URL]`: serves until SIGINT/SIGTERM. */
export async function serve(ctx: CliContext): Promise<number> {
  const codec = codecFromEnv();
  if (!codec) throw new UsageError('codec-server: no keys; set CARETAKER_CODEC_KEYS or CARETAKER_CODEC_KEY_FILE as the worker has them');
  const port = Number(ctx.flag('port') ?? process.env.CARETAKER_CODEC_PORT ?? 8089);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new UsageError(`--port: expected a port number, got "${ctx.flag('port')}"`);
  const origins = (ctx.flag('cors-origin') ?? process.env.CARETAKER_CODEC_CORS_ORIGINS ?? 'http://localhost:8080,http://localhost:8233').split(',');
  const server = createCodecServer(codec, origins);
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  console.log(
    `caretaker codec-server: http://127.0.0.1:${port} (POST /encode, /decode; CORS for ${origins.join(', ')}; encrypting with key "${codec.currentKeyId}")`,
  );
  await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
  server.close();
  return 0;
}
