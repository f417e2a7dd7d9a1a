/** The personal data the crash preload (crash-on-signal.ts) puts in its error, for a test to look for in the logs. */
export const CRASH_MARKS = { name: 'Amani Crashtest', phone: '+250788123987', text: 'please help me at the market' };
