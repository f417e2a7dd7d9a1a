import { createHash } from 'node:crypto';

/** A UUID in its usual text form, any version (Primero's record ids, RapidPro's contact, flow and run ids). */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The gateway's own UUIDv5 namespace; changing it would let replays of old messages create new cases. */
export const GATEWAY_NAMESPACE = '6f1c2a0e-8d4b-5e7a-9c3f-2b1d0e4a7c55';

function uuidBytes(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new Error('not a UUID');
  return Buffer.from(hex, 'hex');
}

/** RFC 9562 UUIDv5: the same name always gives the same id, so Primero answers a replayed create with 409. */
export function uuidV5(name: string, namespace: string = GATEWAY_NAMESPACE): string {
  const hash = createHash('sha1').update(uuidBytes(namespace)).update(name, 'utf8').digest();
  const b = hash.subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x50;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
