import { z } from 'zod';
import { csv, httpUrl, intWithDefault, optionalSecret, optionalText } from './config-fields';

/** The two-way conversation's settings (caseworker messages out, follow-ups in), spread into src/config.ts's schema. */
export const twoWaySettings = {
  // Two-way: a Primero note with this subject (case- and accent-insensitive) is sent to the person who wrote in.
  REPLY_NOTE_SUBJECT: z.preprocess((v) => (v === '' || v === undefined ? 'Message to reporter' : v), z.string().min(1).max(200)),
  // Primero users (note authors) who may message the reporter of a sensitive (PSEA) record; nobody when unset.
  REPLY_SENSITIVE_ALLOWED: z.preprocess((v) => (typeof v === 'string' ? v : ''), z.string()).transform(csv),
  REPLY_CONCURRENCY: intWithDefault(4, 1, 256),
  // Messages to people per second, all workers together (each costs an SMS or a RapidPro API call).
  REPLY_RATE_PER_SECOND: intWithDefault(5, 1, 10000),
  REPLY_TIMEOUT_MS: intWithDefault(15000, 100, 120000),
  // A message without a keyword from a sender with an open gateway record this young joins that record (0 = off).
  FOLLOW_UP_WINDOW_DAYS: intWithDefault(30, 0, 3650),
  RAPIDPRO_REPLY_FLOW_UUID: optionalText.refine((v) => v === undefined || /^[0-9a-f-]{36}$/i.test(v), 'must be a flow UUID'),
  // An approved WhatsApp template inviting the person to write back, sent instead of a caseworker's words outside the 24-hour window.
  WHATSAPP_REPLY_TEMPLATE: optionalText,
  WHATSAPP_REPLY_TEMPLATE_LANGUAGE: z.preprocess((v) => (v === '' || v === undefined ? 'en' : v), z.string().min(2).max(15)),
  TWILIO_ACCOUNT_SID: optionalText.refine((v) => v === undefined || /^AC[0-9a-fA-F]{32}$/.test(v), 'must be a Twilio account SID (AC followed by 32 hex characters)'),
  TWILIO_FROM: optionalText,
  TWILIO_API_URL: httpUrl.default('https://api.twilio.com'),
  AFRICASTALKING_USERNAME: optionalText,
  AFRICASTALKING_API_KEY: optionalSecret,
  AFRICASTALKING_FROM: optionalText,
  AFRICASTALKING_API_URL: httpUrl.default('https://api.africastalking.com'),
};
