import { z } from 'zod';
import { parseDataKey } from './security/sealing';

/** The value types the settings are made of (src/config.ts is the one schema). */

export const csv = (v: string) =>
  v
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

export const isDataKey = (v: string) => {
  try {
    parseDataKey(v);
    return true;
  } catch {
    return false;
  }
};

// Unset and empty are the same thing for an operator editing a .env file.
export const optionalSecret = z.preprocess((v) => (v === '' ? undefined : v), z.string().min(8, 'must be at least 8 characters').optional());
export const optionalText = z.preprocess((v) => (v === '' ? undefined : v), z.string().optional());
export const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).transform((u) => u.replace(/\/+$/, ''));
export const intWithDefault = (def: number, min: number, max: number) =>
  z.preprocess((v) => (v === '' || v === undefined ? def : Number(v)), z.number().int().min(min).max(max));
