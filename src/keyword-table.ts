import { loadDataFile } from './data-files';
import { keywordTableSchema, type KeywordTable } from './domain/keywords';

/** Reads the programme's keyword and reply tables at start; a broken file stops the gateway, naming the field. */
export function loadKeywordTable(file: string): KeywordTable {
  return loadDataFile(file, keywordTableSchema, { unreadable: 'cannot be read as JSON', root: '(root)' });
}
