import type { ErrorDetail } from '../http/errors';

/** Why a parser refused a request: the route answers it as is (never echoing submitted values). */
export interface Rejection {
  status: number;
  code: string;
  message: string;
  details: ErrorDetail[];
}

/** A parser's answer: what the request carried, or the refusal the route sends. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; rejection: Rejection };

export const accepted = <T>(value: T): Parsed<T> => ({ ok: true, value });

export const rejected = (status: number, code: string, message: string, details: ErrorDetail[] = []): Parsed<never> => ({
  ok: false,
  rejection: { status, code, message, details },
});

/** Chains a second step onto a parser's answer, passing a refusal through untouched. */
export function andThen<A, B>(parsed: Parsed<A>, next: (value: A) => Parsed<B>): Parsed<B> {
  return parsed.ok ? next(parsed.value) : parsed;
}
