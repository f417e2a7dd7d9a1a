import { backgroundFlowCheck } from '../../clients/background-flow';
import { DeliveryError, readOnly } from '../../clients/delivery-error';
import type { RapidProClient } from '../../clients/rapidpro';
import type { Logger } from '../../logger';
import { providerCall, type PersonMessage, type PersonSender, type PersonSenderFactory } from '../../replies/person-sender';

/**
 * mailroom starts a flow that is not `background` in interrupt mode, ending whatever run the person is in
 * (nyaruka/mailroom core/tasks/start_flow_batch.go); `exclude_active` would drop the message for anyone in a flow.
 * Anything but a background flow is the operator's to fix: a configuration failure pauses the queue, and the
 * message waits, unsent.
 */
function backgroundCheck(client: RapidProClient, flow: string, logger: Logger): () => Promise<void> {
  const isBackground = backgroundFlowCheck(() => readOnly(() => client.flowType(flow)));
  return async () => {
    const verdict = await isBackground();
    if (verdict.ok) return;
    const { type } = verdict;
    const fault = type === null ? 'names no flow in this workspace' : "is not a background flow (starting it would interrupt the person's other flows)";
    logger.error({ service: 'RapidPro', flowType: type }, `RAPIDPRO CONFIGURATION FAULT: RAPIDPRO_REPLY_FLOW_UUID ${fault}; import flows/reply.flow.json`);
    throw new DeliveryError('RapidPro', 'configuration', null, `RapidPro: RAPIDPRO_REPLY_FLOW_UUID ${type === null ? 'names no flow' : 'is not a background flow'}`);
  };
}

/**
 * A caseworker's message through RapidPro: a start of the shipped reply flow (flows/reply.flow.json, background,
 * sends `@trigger.params.text`) for the person's URN, or their contact when the flow gave no URN. Params carry the
 * text and the reference only. Null when RAPIDPRO_REPLY_FLOW_UUID (or the RapidPro API settings) are unset.
 */
export const rapidProPersonSender: PersonSenderFactory = ({ config, rapidpro, logger }): PersonSender | null => {
  const flow = config.RAPIDPRO_REPLY_FLOW_UUID;
  if (!rapidpro || !flow) return null;
  const ensureBackground = backgroundCheck(rapidpro, flow, logger);
  return {
    async send(message: PersonMessage) {
      await ensureBackground();
      const params = { text: message.text, reference: message.reference };
      const { urn, contactUuid } = message;
      if (!urn && !contactUuid) throw new DeliveryError('RapidPro', 'permanent', null, 'RapidPro: the message names no URN and no contact');
      await providerCall('RapidPro', () => rapidpro.startFlow(flow, urn ? [urn] : [], params, urn ? { excludeActive: false } : { excludeActive: false, contacts: [contactUuid!] }));
      return { sent: 'text' };
    },
  };
};
