/** Placeholder until the librdkafka adapter lands: refuses with a clear reason. */
import { LivetagError } from '../common/errors.ts';
import type { ClientOptions } from './client-options.ts';
import type { KafkaClient } from './port.ts';

export function createConfluentClient(_options: ClientOptions): KafkaClient {
  throw new LivetagError('LT_CONFIG_INVALID', 'the confluent Kafka adapter is not built yet');
}
