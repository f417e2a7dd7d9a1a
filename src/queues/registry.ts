import { Queue } from 'bullmq';
import type { RedisConnection } from './connection';
import { QUEUES, type QueueName } from './names';

/**
 * One BullMQ Queue per name on a connection: producers, the operator views and the workers' own queue
 * handles share it instead of each opening another. Closed together.
 */
export class QueueRegistry {
  private readonly queues = new Map<QueueName, Queue>();

  constructor(
    private readonly redis: RedisConnection,
    private readonly prefix: string,
    /** Errors surface through the calls that fail; this keeps an 'error' event from crashing the process. */
    private readonly onError: (err: Error, queue: QueueName) => void = () => undefined,
  ) {}

  get(name: QueueName): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.redis, prefix: this.prefix });
      queue.on('error', (err) => this.onError(err, name));
      this.queues.set(name, queue);
    }
    return queue;
  }

  /** Every gateway queue, for the views that span them (dead letters, dashboard, metrics, forget). */
  all(): Queue[] {
    return Object.values(QUEUES).map((name) => this.get(name));
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
  }
}
