/** Every key the gateway owns (outside BullMQ's) lives under `<QUEUE_PREFIX>:gw:`, so a hash-tag prefix keeps them in one slot. */
export function gatewayKey(prefix: string, ...parts: string[]): string {
  return [prefix, 'gw', ...parts].join(':');
}
