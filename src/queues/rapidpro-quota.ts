/**
 * RAPIDPRO_RATE_PER_HOUR is the gateway's whole share of the RapidPro workspace's API bucket, which every token of
 * the workspace draws from. Two queues start flows: status notifications (rapidpro-notify) and caseworker messages
 * (caseworker-messages-rapidpro). BullMQ limits each queue on its own, so the share is split between them: a sixth
 * for caseworker messages (a person typing, far fewer than status changes), the rest for notifications. Together they
 * never exceed the setting (but for a setting below 2, where each queue still gets one an hour).
 */
export function rapidProShares(perHour: number): { notify: number; replies: number } {
  const replies = Math.max(1, Math.floor(perHour / 6));
  return { notify: Math.max(1, perHour - replies), replies };
}

/** Evenly spaced starts, shared by every worker of the queue through Redis. */
export function spacedPerHour(perHour: number): { max: number; duration: number } {
  return { max: 1, duration: Math.max(1, Math.floor(3_600_000 / perHour)) };
}
