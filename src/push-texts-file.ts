import { loadDataFile } from './data-files';
import { pushTextsSchema, type PushTexts } from './domain/push-texts';

/** Reads the push notices' and enrollment page's texts at start; a broken file stops the process, naming the field. */
export function loadPushTexts(file: string): PushTexts {
  return loadDataFile(file, pushTextsSchema);
}
