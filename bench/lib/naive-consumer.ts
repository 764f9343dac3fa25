import { createKafka } from '../../test/helpers/kafkajs.ts';
import { createClassifier } from '../../src/model/runtime/classifier.ts';
import type { EncodedBatch } from '../../src/model/tokenizer.ts';

/**
 * What a user would write first: kafkajs eachMessage, one inference per
 * message padded to the model's max length, one send per message, default
 * auto-commit. The baseline livetag is measured against.
 */
export async function startNaiveConsumer(opts: { brokers: string; input: string; output: string; groupId: string; bundle: string; threads: number }) {
  const classifier = await createClassifier({ bundle: opts.bundle, worker: false, threads: opts.threads });
  const maxLen = classifier.manifest.maxSequenceLength;
  const client = createKafka({ brokers: opts.brokers, clientId: 'naive', logLevel: 'nothing' });
  const producer = client.producer();
  const consumer = client.consumer({ groupId: opts.groupId, maxWaitTimeInMs: 5 });
  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topic: opts.input, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message, partition }) => {
      const msg = JSON.parse(message.value!.toString('utf8'));
      const [ids] = await classifier.encoder.ids([msg.text]);
      const padded = classifier.encoder.pad([[...ids, ...new Array(maxLen - ids.length).fill(0)]]);
      // Fixed padding: attention over the whole max length, as a naive export does.
      const batch: EncodedBatch = { ...padded, attentionMask: padded.attentionMask.map((_, i) => (i < ids.length ? 1n : 0n)) };
      const [c] = classifier.decide(await classifier.infer(batch), 1);
      await producer.send({
        topic: opts.output,
        messages: [{ key: message.key, value: JSON.stringify({ ...msg, tags: c.tags, timing: { producedAt: Number(message.timestamp), classifiedAt: Date.now() }, source: { partition, offset: message.offset } }) }],
      });
    },
  });
  return {
    async stop() {
      await consumer.disconnect();
      await producer.disconnect();
      await classifier.stop();
    },
  };
}
