import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Payload, PayloadCodec } from '@temporalio/common';

/** Temporal's codec-server JSON: payloads with base64 metadata values and data. */
interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

const fromJson = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(p.data ?? '', 'base64'),
});
const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')])),
  data: Buffer.from(p.data ?? []).toString('base64'),
});

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Temporal's remote codec endpoint (`POST /encode`, `POST /decode`), so the Web UI and
 * `temporal` CLI (`--codec-endpoint`) can show decrypted payloads to operators who run this with
 * the key. CORS answers `corsOrigins` (the Web UI's origin) with credentials, for the UI's
 * "pass access token" option.
 */
export function createCodecServer(codec: PayloadCodec, corsOrigins: readonly string[]): Server {
  return createServer((req, res: ServerResponse) => {
    const origin = req.headers.origin;
    if (origin && corsOrigins.includes(origin)) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
      res.setHeader('Vary', 'Origin');
    }
    if (req.method === 'OPTIONS') return void res.writeHead(204).end();
    const op = req.url?.replace(/\/+$/, '').split('/').at(-1);
    if (req.method !== 'POST' || (op !== 'encode' && op !== 'decode')) return void res.writeHead(404).end('expected POST /encode or POST /decode');
    body(req)
      .then(async (text) => {
        const { payloads } = JSON.parse(text) as { payloads?: JsonPayload[] };
        if (!Array.isArray(payloads)) throw new SyntaxError(`expected {"payloads": [...]}, got ${text.slice(0, 80)}`);
        const out = await (op === 'encode' ? codec.encode(payloads.map(fromJson)) : codec.decode(payloads.map(fromJson)));
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ payloads: out.map(toJson) }));
      })
      .catch((err: Error) => res.writeHead(err instanceof SyntaxError ? 400 : 500).end(err.message));
  });
}
