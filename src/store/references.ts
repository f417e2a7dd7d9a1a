import type { Redis } from 'ioredis';
import { referenceFromSequence } from '../domain/reference';
import { gatewayKey } from './keys';

export interface CaseLink {
  reference: string;
  caseId: string;
  caseIdDisplay: string | null;
  urn: string | null;
  channel: string;
  intent: string;
  createdAt: string;
  referredAt: string | null;
}

/**
 * reference → Primero case, kept as long as the case can still be notified about
 * (REFERENCE_RETENTION_DAYS), so a later case event can find the person who wrote in.
 */
export class ReferenceStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly retentionDays: number,
  ) {}

  async next(): Promise<string> {
    return referenceFromSequence(await this.redis.incr(gatewayKey(this.prefix, 'seq', 'reference')));
  }

  private key(reference: string): string {
    return gatewayKey(this.prefix, 'ref', reference);
  }

  async saveLink(link: CaseLink): Promise<void> {
    const fields: Record<string, string> = {
      reference: link.reference,
      caseId: link.caseId,
      caseIdDisplay: link.caseIdDisplay ?? '',
      urn: link.urn ?? '',
      channel: link.channel,
      intent: link.intent,
      createdAt: link.createdAt,
      referredAt: link.referredAt ?? '',
    };
    await this.redis.multi().hset(this.key(link.reference), fields).expire(this.key(link.reference), this.retentionDays * 86400).exec();
  }

  async markReferred(reference: string, at: Date): Promise<void> {
    await this.redis.hset(this.key(reference), 'referredAt', at.toISOString());
  }

  async get(reference: string): Promise<CaseLink | null> {
    const h = await this.redis.hgetall(this.key(reference));
    if (!h.caseId) return null;
    return {
      reference,
      caseId: h.caseId,
      caseIdDisplay: h.caseIdDisplay || null,
      urn: h.urn || null,
      channel: h.channel ?? '',
      intent: h.intent ?? '',
      createdAt: h.createdAt ?? '',
      referredAt: h.referredAt || null,
    };
  }
}
