import { idempotencyWindowWarning, loadConfig } from '../../src/config';

const minimal = { NODE_ENV: 'test', PRIMERO_URL: 'https://primero.example.org/', PRIMERO_USER: 'sms_gateway', PRIMERO_PASSWORD: 'pw' };

describe('configuration', () => {
  it('applies defaults and trims the trailing slash of URLs', () => {
    const result = loadConfig(minimal);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.PORT).toBe(3000);
    expect(result.config.PRIMERO_URL).toBe('https://primero.example.org');
    expect(result.config.IDEMPOTENCY_WINDOW_HOURS).toBeGreaterThanOrEqual(24);
    expect(result.config.RAPIDPRO_WEBHOOK_TOKEN).toBeUndefined();
    // A share of RapidPro's per-workspace bucket (3,600/hour, shared by every token), not all of it.
    expect(result.config.RAPIDPRO_RATE_PER_HOUR).toBe(1200);
  });

  it('names every missing or malformed setting on its own line, without its value', () => {
    const result = loadConfig({ PRIMERO_URL: 'ftp://secret-host', PORT: 'eighty', RAPIDPRO_WEBHOOK_TOKEN: 'short' });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toEqual(
      expect.arrayContaining([
        'PRIMERO_USER: is required but not set',
        'PRIMERO_PASSWORD: is required but not set',
        expect.stringMatching(/^PRIMERO_URL: /),
        expect.stringMatching(/^PORT: /),
        expect.stringMatching(/^RAPIDPRO_WEBHOOK_TOKEN: must be at least 8 characters/),
      ]),
    );
    expect(result.problems.join('\n')).not.toContain('secret-host');
  });

  it('treats an empty value as unset', () => {
    const result = loadConfig({ ...minimal, RAPIDPRO_WEBHOOK_TOKEN: '' });
    expect(result.ok && result.config.RAPIDPRO_WEBHOOK_TOKEN).toBeUndefined();
  });

  it('refuses an ADMIN_TOKEN shorter than 32 characters in production', () => {
    const short = loadConfig({ ...minimal, NODE_ENV: 'production', HASH_KEY: 'a'.repeat(64), DATA_KEY: Buffer.alloc(32, 7).toString('base64'), ADMIN_TOKEN: 'x'.repeat(31) });
    expect(short.ok).toBe(false);
    if (!short.ok) expect(short.problems).toEqual([expect.stringMatching(/^ADMIN_TOKEN: must be at least 32 characters/)]);
    expect(loadConfig({ ...minimal, NODE_ENV: 'production', HASH_KEY: 'a'.repeat(64), DATA_KEY: Buffer.alloc(32, 7).toString('base64'), ADMIN_TOKEN: 'x'.repeat(32) }).ok).toBe(true);
    expect(loadConfig({ ...minimal, ADMIN_TOKEN: 'x'.repeat(16) }).ok).toBe(true);
  });
  describe('the idempotency window with WhatsApp on (Meta retries a failed webhook for up to 7 days)', () => {
    const whatsapp = { ...minimal, WHATSAPP_APP_SECRET: 'fb_app_secret' };
    const windowOf = (env: NodeJS.ProcessEnv) => {
      const result = loadConfig(env);
      if (!result.ok) throw new Error(result.problems.join('; '));
      return result.config;
    };

    it('is 192 hours when unset (or empty) and WhatsApp messages are taken, 72 without WhatsApp', () => {
      expect(windowOf(whatsapp).IDEMPOTENCY_WINDOW_HOURS).toBe(192);
      expect(windowOf({ ...whatsapp, IDEMPOTENCY_WINDOW_HOURS: '' }).IDEMPOTENCY_WINDOW_HOURS).toBe(192);
      expect(windowOf(minimal).IDEMPOTENCY_WINDOW_HOURS).toBe(72);
      // The verify token alone only answers Meta's handshake: no message comes in.
      expect(windowOf({ ...minimal, WHATSAPP_VERIFY_TOKEN: 'verify-token-123' }).IDEMPOTENCY_WINDOW_HOURS).toBe(72);
      expect(idempotencyWindowWarning(windowOf(whatsapp))).toBeNull();
    });

    it('keeps a window the operator set, and warns, naming the setting and why, when it is below 192 with WhatsApp', () => {
      const short = windowOf({ ...whatsapp, IDEMPOTENCY_WINDOW_HOURS: '72' });
      expect(short.IDEMPOTENCY_WINDOW_HOURS).toBe(72);
      expect(idempotencyWindowWarning(short)).toMatch(/^IDEMPOTENCY_WINDOW_HOURS is 72, below 192: Meta retries a failed WhatsApp webhook for up to 7 days/);
      const long = windowOf({ ...whatsapp, IDEMPOTENCY_WINDOW_HOURS: '240' });
      expect(long.IDEMPOTENCY_WINDOW_HOURS).toBe(240);
      expect(idempotencyWindowWarning(long)).toBeNull();
      expect(idempotencyWindowWarning(windowOf({ ...minimal, IDEMPOTENCY_WINDOW_HOURS: '24' }))).toBeNull();
    });
  });
});
