import type { Config } from '../config';
import { PayloadCodec } from './payload-codec';
import { parseDataKey, Sealer } from './sealing';

export function codecFromConfig(config: Pick<Config, 'DATA_KEY' | 'DATA_KEY_PREVIOUS' | 'SEAL_ACCEPT_LEGACY'>): PayloadCodec {
  if (!config.DATA_KEY) return new PayloadCodec(null);
  return new PayloadCodec(new Sealer(parseDataKey(config.DATA_KEY), config.DATA_KEY_PREVIOUS.map(parseDataKey), config.SEAL_ACCEPT_LEGACY));
}
