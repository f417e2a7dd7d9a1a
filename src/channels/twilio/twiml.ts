function xmlEscape(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

/** Twilio's answer: the acknowledgement as an SMS back to the sender, or nothing. */
export function twiml(reply: string | null): string {
  const body = reply === null ? '<Response/>' : `<Response><Message>${xmlEscape(reply)}</Message></Response>`;
  return `<?xml version="1.0" encoding="UTF-8"?>${body}`;
}
