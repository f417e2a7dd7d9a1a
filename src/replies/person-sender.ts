import type { RedisConnection } from '../queues/connection';
import { DeliveryError } from '../clients/delivery-error';
import type { RapidProClient } from '../clients/rapidpro';
import type { Config } from '../config';
import type { Logger } from '../logger';
import type { IdentifierHasher } from '../security/identifier-hash';

/**
 * A caseworker's message to the person behind a record, opened from its sealed job: it holds personal data
 * (the URN and the caseworker's words) and must never reach a log line, a metric, a trace or an error message.
 */
export interface PersonMessage {
  urn: string;
  /** The RapidPro contact (lowercase UUID) when the person wrote through a flow. */
  contactUuid: string | null;
  text: string;
  /** The language the person wrote in (ISO 639-3 as the keyword table names it), when known. */
  language: string | null;
  /** The record's reference: the only thing a sender may log about the message. */
  reference: string;
}

/**
 * What went out: the caseworker's words, or (WhatsApp outside its 24-hour window) only an approved template
 * inviting the person to write back.
 */
export type SendOutcome = { sent: 'text' } | { sent: 'template' };

/**
 * Sends on one channel. A failure is a DeliveryError (src/clients/delivery-error.ts); one whose request may have
 * reached the provider (a timeout or a reset after the request was written) carries the hint `maybe_sent`, and
 * is never retried: a caseworker's message is sent at most once. Any other error is the sender's own, thrown before
 * any request (a Redis read, a lookup): nothing went out, and the send is retried. So every provider request, and
 * the reading of its answer, runs inside `providerCall`.
 */
export interface PersonSender {
  send(message: PersonMessage): Promise<SendOutcome>;
}

/**
 * Runs a request to the provider and reads its answer. An error that is not a DeliveryError may have been thrown
 * after the request left (a malformed answer, a bug in reading it): it may have been sent, so it becomes one with
 * the hint `maybe_sent` (its own message is dropped: it may quote the answer).
 */
export async function providerCall<T>(service: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    // A 502 or 504 comes from a proxy in front of the provider that lost or gave up on the provider's answer: the
    // provider itself may have taken the message.
    if (err instanceof DeliveryError && (err.status === 502 || err.status === 504) && err.hint === null) {
      throw new DeliveryError(err.service, err.kind, err.status, err.message, err.retryAfterMs, { is: 'maybe_sent' });
    }
    if (err instanceof DeliveryError) throw err;
    throw new DeliveryError(service, 'transient', null, `${service}: the answer to the send could not be read`, null, { is: 'maybe_sent' });
  }
}

/** What a channel's sender may be built from in a worker process. */
export interface PersonSenderDeps {
  config: Config;
  redis: RedisConnection;
  hasher: IdentifierHasher;
  logger: Logger;
  rapidpro: RapidProClient | null;
}

/** Null when the channel's send settings are unset: its records' messages end as "not sent: channel not configured". */
export type PersonSenderFactory = (deps: PersonSenderDeps) => PersonSender | null;
