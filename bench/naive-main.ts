/**
 * The naive consumer as its own process (so the suite can measure its CPU
 * and memory like livetag's): env NAIVE_BROKERS, NAIVE_INPUT, NAIVE_OUTPUT,
 * NAIVE_GROUP, NAIVE_BUNDLE, NAIVE_THREADS. Prints "ready" once consuming;
 * SIGTERM stops it.
 */
import { startNaiveConsumer } from './lib/naive-consumer.ts';

const env = process.env;
const naive = await startNaiveConsumer({
  brokers: env.NAIVE_BROKERS!,
  input: env.NAIVE_INPUT!,
  output: env.NAIVE_OUTPUT!,
  groupId: env.NAIVE_GROUP!,
  bundle: env.NAIVE_BUNDLE!,
  threads: Number(env.NAIVE_THREADS ?? '0'),
});
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  void naive.stop().then(() => process.exit(0));
});
