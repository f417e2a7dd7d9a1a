/** gocommon urns: whatsapp paths are digits, or a business-scoped user id `CC.xxx` (urns/schemes.go). */
export const SENDER = /^(?:[0-9]{1,20}|[A-Z]{2}\.[A-Za-z0-9]{1,128})$/;
export const isBusinessScopedId = (waId: string) => /^[A-Z]{2}\./.test(waId);
