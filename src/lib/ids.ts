import { randomBytes } from 'node:crypto';

/** Random bytes are drawn 4 KiB at a time: one call to the CSPRNG per 256 ids. */
let entropy = Buffer.alloc(0);
let entropyOffset = 0;
function randomBlock(): Buffer {
  if (entropyOffset + 16 > entropy.length) {
    entropy = randomBytes(4096);
    entropyOffset = 0;
  }
  const block = Buffer.allocUnsafe(16);
  entropy.copy(block, 0, entropyOffset, entropyOffset + 16);
  entropyOffset += 16;
  return block;
}

/**
 * A UUIDv7 (RFC 9562): 48-bit millisecond timestamp, then random bits. Ids are opaque to clients,
 * but time-ordered ids keep primary-key inserts at the right edge of the B-tree.
 */
export function newId(now: number = Date.now()): string {
  const bytes = randomBlock();
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isId(value: string): boolean {
  return uuidPattern.test(value);
}
