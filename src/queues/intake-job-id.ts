/**
 * Intake job ids carry the reference the sender was given: `m-<reference>`, or `m-<reference>-<own>` for a
 * message merged into an earlier report. A duplicate delivery learns the reference from the stored job id
 * alone, so this rule is part of the Redis layout; the acceptance ledger's script receives the prefix from here.
 */
export const intakeJobId = {
  prefix: 'm-',
  of(reference: string, own?: string): string {
    return own === undefined ? `${this.prefix}${reference}` : `${this.prefix}${reference}-${own}`;
  },
  isIntake(jobId: string | undefined): jobId is string {
    return jobId !== undefined && jobId.startsWith(this.prefix);
  },
  /** The reference the sender was given (an id that is no intake id is returned as it is). */
  referenceOf(jobId: string): string {
    return this.isIntake(jobId) ? jobId.slice(this.prefix.length).split('-')[0]! : jobId;
  },
  /** The merged message's own reference (null for a message that is not merged). */
  ownReferenceOf(jobId: string): string | null {
    return this.isIntake(jobId) ? (jobId.slice(this.prefix.length).split('-')[1] ?? null) : null;
  },
  /** Every reference a well-formed intake id names (none for any other id). */
  referencesNamed(jobId: string): string[] {
    if (!this.isIntake(jobId)) return [];
    const m = /^([^-]+)(?:-([^-]+))?$/.exec(jobId.slice(this.prefix.length));
    return m ? [m[1]!, ...(m[2] ? [m[2]] : [])] : [];
  },
};
