import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { defaultPayloadConverter } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCodecServer } from '../client/codec-server';
import { AesGcmCodec, codecFromEnv, ENCRYPTED_ENCODING } from '../config/codec';

const k1 = randomBytes(32);
const k2 = randomBytes(32);
const payload = defaultPayloadConverter.toPayload({ rows: 42, note: 'plaintext-marker' });

describe('the AES-256-GCM payload codec', () => {
  it('encrypts the whole payload with the current key id and decrypts it back', async () => {
    const codec = new AesGcmCodec(new Map([['k1', k1]]), 'k1');
    const [enc] = await codec.encode([payload]);
    expect(Buffer.from(enc!.metadata!.encoding!).toString()).toBe(ENCRYPTED_ENCODING);
    expect(Buffer.from(enc!.metadata!['encryption-key-id']!).toString()).toBe('k1');
    expect(Buffer.from(enc!.data!).includes('plaintext-marker')).toBe(false);
    const [dec] = await codec.decode([enc!]);
    expect(defaultPayloadConverter.fromPayload(dec!)).toEqual({ rows: 42, note: 'plaintext-marker' });
  });

  it('rotates: a codec whose current key is new still decrypts what the old key encrypted, and names a missing key', async () => {
    const [old] = await new AesGcmCodec(new Map([['k1', k1]]), 'k1').encode([payload]);
    const rotated = new AesGcmCodec(
      new Map([
        ['k1', k1],
        ['k2', k2],
      ]),
      'k2',
    );
    expect(defaultPayloadConverter.fromPayload((await rotated.decode([old!]))[0]!)).toEqual({ rows: 42, note: 'plaintext-marker' });
    const [fresh] = await rotated.encode([payload]);
    expect(Buffer.from(fresh!.metadata!['encryption-key-id']!).toString()).toBe('k2');
    await expect(new AesGcmCodec(new Map([['k2', k2]]), 'k2').decode([old!])).rejects.toThrow(
      'codec: payload encrypted with key id "k1", which this process does not have (known: k2)',
    );
  });

  it('comes from the environment, is off without keys, and names bad keys', () => {
    expect(codecFromEnv({})).toBeUndefined();
    expect(codecFromEnv({ CARETAKER_CODEC_KEYS: `a:${k1.toString('base64')},b:${k2.toString('base64')}` })!.currentKeyId).toBe('b');
    expect(codecFromEnv({ CARETAKER_CODEC_KEYS: `a:${k1.toString('base64')},b:${k2.toString('base64')}`, CARETAKER_CODEC_KEY_ID: 'a' })!.currentKeyId).toBe(
      'a',
    );
    expect(() => codecFromEnv({ CARETAKER_CODEC_KEYS: 'a:c2hvcnQ=' })).toThrow(
      'CARETAKER_CODEC_KEYS: expected entries "<key id>:<32 bytes in base64>" separated by commas or new lines, got an entry of 5 bytes',
    );
    expect(() => codecFromEnv({ CARETAKER_CODEC_KEYS: `a:${k1.toString('base64')}`, CARETAKER_CODEC_KEY_ID: 'z' })).toThrow(
      'codec: the current key id "z" is not among the keys (a)',
    );
  });
});

describe('caretaker codec-server', () => {
  const codec = new AesGcmCodec(new Map([['k1', k1]]), 'k1');
  const server = createCodecServer(codec, ['http://localhost:8080']);
  let base: string;
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const json = { payloads: [{ metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: Buffer.from('{"a":1}').toString('base64') }] };
  const post = (path: string, body: unknown) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Origin: 'http://localhost:8080', 'X-Namespace': 'default' },
      body: JSON.stringify(body),
    });

  it('encodes and decodes Temporal codec JSON, with CORS for the Web UI origin', async () => {
    const encoded = await post('/encode', json);
    expect(encoded.status).toBe(200);
    expect(encoded.headers.get('access-control-allow-origin')).toBe('http://localhost:8080');
    const body = (await encoded.json()) as typeof json;
    expect(Buffer.from(body.payloads[0]!.metadata.encoding, 'base64').toString()).toBe(ENCRYPTED_ENCODING);
    expect(await (await post('/decode', body)).json()).toEqual(json);
  });

  it('answers the preflight for its origin only, and names what it expects', async () => {
    const allowed = await fetch(`${base}/decode`, { method: 'OPTIONS', headers: { Origin: 'http://localhost:8080' } });
    expect({ status: allowed.status, headers: allowed.headers.get('access-control-allow-headers') }).toEqual({
      status: 204,
      headers: 'Content-Type, X-Namespace, Authorization',
    });
    const other = await fetch(`${base}/decode`, { method: 'OPTIONS', headers: { Origin: 'http://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    expect(await (await post('/decode', { nope: 1 })).text()).toBe('expected {"payloads": [...]}, got {"nope":1}');
  });
});
