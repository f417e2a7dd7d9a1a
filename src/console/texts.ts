import type { Request } from 'express';
import { z } from 'zod';
import { loadDataFile } from '../data-files';
import { cookieReader } from '../http/cookies';

/** Every text the console shows; a language missing one is refused at start, so no page shows a key. */
const KEYS = [
  'console', 'nav_overview', 'nav_dead_letters', 'nav_trace', 'nav_devices', 'log_out', 'log_in', 'login_intro',
  'token_label', 'name_label', 'login_failed', 'messages_received', 'cases_created', 'dead_letters',
  'oldest_dead_letter', 'none', 'queues', 'queue', 'waiting', 'active', 'delayed', 'failed', 'oldest_waiting',
  'destinations', 'state_healthy', 'state_retrying', 'state_paused', 'resumes_in', 'updated_at', 'refresh_hint',
  'filter', 'all_queues', 'error_contains', 'min_age_hours', 'max_age_hours', 'apply', 'replay_matching', 'dl_empty',
  'dl_showing', 'reference', 'error', 'attempts', 'failed_at', 'view', 'replay', 'discard', 'reason_label', 'reveal',
  'reveal_intro', 'discard_intro', 'masked_payload', 'revealed_payload', 'revealed_warning', 'replay_matching_title',
  'replay_matching_count', 'confirm_replay', 'replayed_notice', 'replayed_count', 'discarded_notice', 'trace_intro',
  'lookup', 'record', 'case_id', 'channel', 'job_state', 'timeline', 'trace_not_found', 'push_disabled', 'user_name',
  'list_devices', 'devices_none', 'device_service', 'device_language', 'device_expires', 'expiring_soon', 'revoke',
  'revoked_notice', 'enroll_title', 'enroll_intro', 'issue_link', 'enroll_link_intro', 'enroll_expires',
  'error_title', 'back', 'nav_forget', 'nav_audit', 'forget_intro', 'forget_label', 'forget_button', 'forget_done', 'forget_nothing_found',
  'forget_references', 'forget_jobs_removed', 'forget_undecodable', 'forget_active_skipped', 'forget_opt_out_kept', 'yes',
  'no', 'audit_intro', 'audit_none', 'replay_expired', 'replay_counted_only', 'reason_hint', 'not_updated', 'enroll_no_public_url',
  'sessions_end_all', 'sessions_end_all_intro', 'replay_failed', 'replay_running', 'resend', 'resend_intro', 'resent_notice',
  'replay_not_confirmed',
] as const;

export type TextKey = (typeof KEYS)[number];
export type ConsoleTexts = Record<TextKey, string>;

const textsSchema = z.strictObject(Object.fromEntries(KEYS.map((k) => [k, z.string().min(1)])) as Record<TextKey, z.ZodString>);
const fileSchema = z
  .object({ default_language: z.string().regex(/^[a-z]{2,3}$/), languages: z.record(z.string().regex(/^[a-z]{2,3}$/), textsSchema) })
  .refine((f) => f.default_language in f.languages, { message: 'default_language must be one of languages', path: ['default_language'] });

export interface ConsoleLanguages {
  defaultLanguage: string;
  languages: Record<string, ConsoleTexts>;
}

/** Reads flows/console-texts.json at start; a broken file stops the process, naming the file and the field. */
export function loadConsoleTexts(file: string): ConsoleLanguages {
  const parsed = loadDataFile(file, fileSchema, { unreadable: 'cannot be read as JSON' });
  return { defaultLanguage: parsed.default_language, languages: parsed.languages as Record<string, ConsoleTexts> };
}

/** Remembers a language chosen with `?lang=` for the next pages (a preference of this browser, nothing personal). */
export const LANGUAGE_COOKIE = 'pmg_console_lang';
const keptLanguage = cookieReader(LANGUAGE_COOKIE, '[a-z]{2,3}');

/** `?lang=` when the file has it, else the one chosen before, else the first Accept-Language the file has, else the default. */
export function languageOf(req: Request, texts: ConsoleLanguages): string {
  const asked = typeof req.query.lang === 'string' ? req.query.lang.toLowerCase() : '';
  if (Object.hasOwn(texts.languages, asked)) return asked;
  const kept = keptLanguage(req) ?? '';
  if (Object.hasOwn(texts.languages, kept)) return kept;
  const accepted = req.acceptsLanguages(...Object.keys(texts.languages));
  return typeof accepted === 'string' ? accepted : texts.defaultLanguage;
}

/** A text with its `{name}` placeholders filled. */
export function fill(text: string, values: Record<string, string | number>): string {
  return text.replace(/\{(\w+)\}/g, (m, name: string) => (name in values ? String(values[name]) : m));
}
