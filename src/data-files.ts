import { readFileSync } from 'node:fs';
import type { z } from 'zod';

export interface DataFileWording {
  /** How a file that cannot be read or parsed is described (`<file>: <unreadable> (<cause>)`); without it the cause is thrown as it is. */
  unreadable?: string;
  /** What names the file's top level in a validation line; an empty path by default. */
  root?: string;
}

/**
 * Reads one JSON data file of flows/ at start and validates it: a broken file stops the process with one line
 * per problem, `<file>: <field path>: <problem>`. Each file keeps the wording its operators already know.
 */
export function loadDataFile<S extends z.ZodType>(file: string, schema: S, wording: DataFileWording = {}): z.output<S> {
  const parsed = schema.safeParse(readJson(file, wording.unreadable));
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `${file}: ${i.path.join('.') || (wording.root ?? '')}: ${i.message}`).join('\n'));
  return parsed.data;
}

function readJson(file: string, unreadable: string | undefined): unknown {
  if (unreadable === undefined) return JSON.parse(readFileSync(file, 'utf8'));
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: ${unreadable} (${(err as Error).message})`);
  }
}
