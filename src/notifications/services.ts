import path from 'node:path';
import type { RedisConnection } from '../queues/connection';
import type { Config } from '../config';
import type { PlanContext } from '../domain/notification-plan';
import type { PushTexts } from '../domain/push-texts';
import { loadPushTexts } from '../push-texts-file';
import type { Logger } from '../logger';
import { PrimeroEventProducer } from '../queues/primero-events';
import { PushProducer } from '../queues/push';
import { RapidProNotifyProducer } from '../queues/rapidpro-notify';
import type { JobRetention } from '../queues/jobs';
import { QUEUES } from '../queues/names';
import type { QueueRegistry } from '../queues/registry';
import type { PayloadCodec } from '../security/payload-codec';
import type { ContactStore } from '../store/contacts';
import { PushSubscriptionStore } from '../store/push-subscriptions';
import type { TraceStore } from '../store/trace';
import { NotificationDispatcher } from './dispatcher';
import { flowStartNotifier } from './flow-start-notifier';
import { pushNotifier } from './push-notifier';

export interface NotificationServices {
  subscriptions: PushSubscriptionStore;
  push: PushProducer | null;
  rapidpro: RapidProNotifyProducer | null;
  events: PrimeroEventProducer;
  dispatcher: NotificationDispatcher;
  plan: PlanContext;
  texts: PushTexts;
}

export const pushEnabled = (c: Config) => !!(c.VAPID_PUBLIC_KEY && c.VAPID_PRIVATE_KEY && c.VAPID_SUBJECT);
export const rapidProNotifyEnabled = (c: Config) => !!(c.RAPIDPRO_URL && c.RAPIDPRO_TOKEN && c.RAPIDPRO_NOTIFY_FLOW_UUID);

/** The outbound side both processes need: the API (enrollment, Primero webhooks) and the workers (fan-out). */
export function buildNotificationServices(
  config: Config,
  redis: RedisConnection,
  queues: QueueRegistry,
  codec: PayloadCodec,
  contacts: ContactStore,
  trace: TraceStore,
  logger: Logger,
): NotificationServices {
  const retention: JobRetention = { attempts: config.REPLY_ATTEMPTS, dedupeWindowMs: config.NOTIFICATION_DEDUPE_DAYS * 86_400_000 };
  const subscriptions = new PushSubscriptionStore(redis, config.QUEUE_PREFIX, codec, config.PUSH_SUBSCRIPTION_TTL_DAYS * 86_400);
  const push = pushEnabled(config) ? new PushProducer(queues.get(QUEUES.push), subscriptions, retention) : null;
  const rapidpro = rapidProNotifyEnabled(config) ? new RapidProNotifyProducer(queues.get(QUEUES.rapidproNotify), codec, retention) : null;
  const events = new PrimeroEventProducer(queues.get(QUEUES.primeroEvents), { ...retention, dedupeWindowMs: config.PRIMERO_EVENT_DEDUPE_DAYS * 86_400_000 }, config.ENQUEUE_TIMEOUT_MS, codec);
  return {
    subscriptions,
    push,
    rapidpro,
    events,
    dispatcher: new NotificationDispatcher([pushNotifier(push, trace, logger), flowStartNotifier(rapidpro, contacts, trace)]),
    plan: { gatewayUser: config.PRIMERO_USER, triageUsers: config.PUSH_TRIAGE_USERS, sensitiveUsers: config.PUSH_SENSITIVE_USERS, notifyCommunity: rapidpro !== null },
    texts: loadPushTexts(path.join(config.MAPPING_DIR, 'push-texts.json')),
  };
}
