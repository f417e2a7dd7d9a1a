import type { Router } from 'express';
import type { ApiServices } from '../api-services';
import type { Config } from '../config';
import type { INTENTS } from '../domain/inbound-message';
import type { FastRoutes } from '../http/fast-routes';
import type { Logger } from '../logger';
import type { QueueName } from '../queues/names';

/** What a channel's route is built from: the process's settings and the services the HTTP side writes to. */
export interface ChannelRouteDeps {
  config: Config;
  logger: Logger;
  services: ApiServices;
  /** Intents with a mapping (RapidPro mounts one route per intent). */
  intents: ReadonlyArray<(typeof INTENTS)[number]>;
}

/** One channel, whole: src/channels/index.ts lists these and everything else derives from the list. */
export interface ChannelDefinition<Name extends string = string> {
  name: Name;
  /** A channel whose secret is unset is off: its routes are never mounted and fall through to 404. */
  enabled(config: Config): boolean;
  route(deps: ChannelRouteDeps): Router;
  /**
   * Routes answered ahead of express (src/http/fast-routes.ts) at their exact paths, behaving as `route`'s do:
   * the busiest inbound webhooks. `route` still serves every other spelling of their paths.
   */
  fastRoutes?(deps: ChannelRouteDeps): FastRoutes;
  /** Fields of this channel's job payloads that hold a person's data: masked for operators, matched by forget. */
  personalFields: readonly string[];
  /** Queues carrying this channel's replies to the sender, if it sends any. */
  replyQueues: readonly QueueName[];
  /**
   * Payload fields that name the sender by this channel's own id rather than by URN, each with the URN that id
   * stands for: forget finds a person's jobs by them.
   */
  senderIdFields?: Readonly<Record<string, (id: string) => string>>;
}

