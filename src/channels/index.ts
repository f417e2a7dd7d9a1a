import type { Config } from '../config';
import { africastalking } from './africastalking/channel';
import { rapidpro } from './rapidpro/channel';
import { twilio } from './twilio/channel';
import { whatsapp } from './whatsapp/channel';

/**
 * The only list of channels. Routes, metric labels, the `channel` enum of a job, masking and forget derive
 * from it: adding a channel is its folder and one line here. The order is the order routes are mounted in.
 */
export const CHANNELS = [rapidpro, twilio, whatsapp, africastalking] as const;

export type ChannelName = (typeof CHANNELS)[number]['name'];

export const CHANNEL_NAMES = CHANNELS.map((c) => c.name);

/** Channels whose secrets are set: the ones this process serves. */
export const enabledChannels = (config: Config) => CHANNELS.filter((c) => c.enabled(config));

/** Every field any channel's jobs carry a person's data in. */
export const CHANNEL_PERSONAL_FIELDS: ReadonlySet<string> = new Set(CHANNELS.flatMap((c) => c.personalFields));

/** Every payload field naming a sender by a channel's own id, with the URN such an id stands for. */
export const CHANNEL_SENDER_ID_FIELDS: ReadonlyArray<readonly [field: string, urnOf: (id: string) => string]> = CHANNELS.flatMap((c) => Object.entries(c.senderIdFields ?? {}));

/** Every queue a channel sends its replies through. */
export const CHANNEL_REPLY_QUEUES = CHANNELS.flatMap((c) => c.replyQueues);
