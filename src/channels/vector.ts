import type { Parsed } from './parsed';

/**
 * One row of a channel's test vectors (as nyaruka/courier keeps handler_test.go beside handler.go): a request
 * as it reaches the parser, after the route's secret check, and what the parser makes of it.
 */
export interface ChannelVector {
  name: string;
  /** The raw body: a string as sent, an object sent as JSON, or a file under test/fixtures/. */
  body: string | object | { fixture: string };
  headers?: Record<string, string>;
  query?: Record<string, string>;
  /** Values the route's path holds (RapidPro's intent). */
  pathParams?: Record<string, string>;
  /** The time the request is read at; a vector with no time of its own is read at 2026-12-01T12:00:00Z. */
  now?: string;
  expected:
    | { outcome: 'message'; messages: Array<Record<string, unknown>>; unreadable?: Array<Record<string, unknown>> }
    | { outcome: 'rejected'; status: number; code: string; paths?: string[] };
}

/** What a channel's pure parser is given: the request's bytes and the parts of it the channel reads. */
export interface ChannelRequest {
  body: Buffer;
  headers: Readonly<Record<string, string | undefined>>;
  query: Readonly<Record<string, string | undefined>>;
  pathParams: Readonly<Record<string, string | undefined>>;
  now: Date;
}

/** What a parser read from one request: the messages it carries and, for WhatsApp, those set aside. */
export interface ParsedRequest {
  messages: readonly object[];
  unreadable?: readonly object[];
}

/** What channel-vectors.test.ts loads from each channel's vectors.ts: the parser under test and its rows. */
export interface ChannelVectors {
  parse(req: ChannelRequest): Parsed<ParsedRequest>;
  rows: readonly ChannelVector[];
}
