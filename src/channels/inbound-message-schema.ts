import { z } from 'zod';
import { inboundMessageSchemaWith } from '../domain/inbound-message';
import { CHANNEL_NAMES } from './index';

/** A job's message as the intake worker checks it: `channel` must name a channel of the list. */
export const inboundMessageSchema = inboundMessageSchemaWith(z.enum(CHANNEL_NAMES));
