import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

/** Metadata of an encrypted payload: its encoding and the id of the key that encrypted it. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const { Payload: PayloadProto } = temporal.api.common.v1;

/**
 * AES-256-GCM over whole payloads (data and metadata): workflow inputs, results, heartbeat
 * details, memo, failure details. Encrypts with the current key id; decrypts with any key it
 * knows, so keys rotate by adding a new current key and keeping the old ones until no history
 * still holds payloads they encrypted. Search attributes are never encoded: Temporal indexes them.
 */
export class AesGcmCodec implements PayloadCodec {
  constructor(
    private readonly keys: ReadonlyMap<string, Buffer>,
    readonly currentKeyId: string,
  ) {
    if (!keys.has(currentKeyId)) throw new Error(`codec: the current key id "${currentKeyId}" is not among the keys (${[...keys.keys()].join(', ')})`);
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const key = this.keys.get(this.currentKeyId)!;
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const plain = PayloadProto.encode(payload).finish();
      const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return { metadata: { encoding: Buffer.from(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: Buffer.from(this.currentKeyId) }, data };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (Buffer.from(payload.metadata?.encoding ?? []).toString() !== ENCRYPTED_ENCODING) return payload;
      const keyId = Buffer.from(payload.metadata?.[KEY_ID_METADATA] ?? []).toString();
      const key = this.keys.get(keyId);
      if (!key)
        throw new Error(`codec: payload encrypted with key id "${keyId}", which this process does not have (known: ${[...this.keys.keys()].join(', ')})`);
      const data = Buffer.from(payload.data ?? []);
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      return PayloadProto.decode(plain) as Payload;
    });
  }
}

function parseKeys(text: string, source: string): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  for (const entry of text.split(/[\s,]+/).filter(Boolean)) {
    const colon = entry.indexOf(':');
    const id = entry.slice(0, colon);
    const key = Buffer.from(entry.slice(colon + 1), 'base64');
    if (colon < 1 || key.length !== 32) {
      throw new Error(
        `${source}: expected entries "<key id>:<32 bytes in base64>" separated by commas or new lines, got an entry of ${colon < 1 ? 'no key id' : `${key.length} bytes`}`,
      );
    }
    keys.set(id, key);
  }
  return keys;
}

/**
 * The codec from the environment, or undefined (encryption off, the default):
 * CARETAKER_CODEC_KEYS ("<id>:<base64 key>,...") or CARETAKER_CODEC_KEY_FILE (the same, one per
 * line), and CARETAKER_CODEC_KEY_ID, the key new payloads are encrypted with (default: the last
 * one listed). Generate a key with `openssl rand -base64 32`.
 */
export function codecFromEnv(env: NodeJS.ProcessEnv = process.env): AesGcmCodec | undefined {
  const file = env.CARETAKER_CODEC_KEY_FILE;
  const inline = env.CARETAKER_CODEC_KEYS;
  if (!file && !inline) return undefined;
  const keys = file ? parseKeys(readFileSync(file, 'utf8'), `CARETAKER_CODEC_KEY_FILE (${file})`) : parseKeys(inline!, 'CARETAKER_CODEC_KEYS');
  if (keys.size === 0) throw new Error('CARETAKER_CODEC_KEYS: expected at least one "<key id>:<base64 key>", got none');
  return new AesGcmCodec(keys, env.CARETAKER_CODEC_KEY_ID || [...keys.keys()].at(-1)!);
}

/** `dataConverter` for a Worker or Client: the codec when configured, else Temporal's default. */
export function dataConverterFromEnv(env: NodeJS.ProcessEnv = process.env): { payloadCodecs: PayloadCodec[] } | undefined {
  const codec = codecFromEnv(env);
  return codec ? { payloadCodecs: [codec] } : undefined;
}
