import { createKafkaClient } from '../../kafka/client.ts';
import { loadKafkaConnection } from '../../kafka/connection.ts';
import { DEAD_LETTER_CODES, deadLetterStats, replayDeadLetters } from '../../dlq/replay.ts';
import { createCommand, usageError } from '../command.ts';
import { dlqSpec } from '../specs/dlq.ts';

function table(title: string, counts: Readonly<Record<string, number>>): string {
  const rows = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  return rows.length === 0 ? '' : `${title}\n${rows.map(([k, n]) => `  ${String(n).padStart(8)}  ${k}`).join('\n')}\n`;
}

/** The codes dead letters carry; a mistyped one would match nothing and replay nothing. */
function checkedCodes(codes: readonly string[]): string[] {
  const known = new Set<string>(DEAD_LETTER_CODES);
  for (const code of codes) {
    if (known.has(code)) continue;
    const hint = known.has(code.toUpperCase()) ? ` (did you mean ${code.toUpperCase()}?)` : '';
    throw usageError(`--filter ${JSON.stringify(code)}: not an error code${hint}; dead letters carry codes such as LT_MSG_INVALID, LT_MSG_BAD_JSON, LT_INFERENCE (\`livetag dlq stats\` lists those present)`);
  }
  return [...codes];
}

export const command = createCommand(dlqSpec, async ({ values, positionals }) => {
  const codes = checkedCodes(values.filter ?? []);
  // Same TLS/SASL settings (LIVETAG_KAFKA_*) as the service, so secured clusters work too.
  const connection = loadKafkaConnection(process.env, values.brokers ? { LIVETAG_KAFKA_BROKERS: values.brokers } : {});
  const client = await createKafkaClient({ connection: { ...connection, clientId: 'livetag-dlq' }, logLevel: 'nothing' });
  const idleTimeoutMs = values['idle-timeout-ms'];
  if (positionals[0] === 'stats') {
    const s = await deadLetterStats({ client, from: values.from, idleTimeoutMs });
    if (values.json) process.stdout.write(JSON.stringify(s) + '\n');
    else {
      process.stdout.write(`${s.total} dead letters on ${values.from}${s.oldest ? ` (${s.oldest} … ${s.newest})` : ''}, ${s.truncated} incomplete (value truncated, or original key or headers left out)\n`);
      process.stdout.write(table('by code:', s.byCode) + table('by source topic:', s.bySourceTopic));
    }
    return s.complete ? 0 : 1;
  }
  const r = await replayDeadLetters({ client, from: values.from, codes, to: values.to, dryRun: values['dry-run'], groupId: values.group, idleTimeoutMs });
  if (values.json) process.stdout.write(JSON.stringify(r) + '\n');
  else {
    const verb = r.dryRun ? 'would replay' : 'replayed';
    process.stdout.write(
      `read ${r.read}, ${verb} ${r.replayed}; skipped ${r.skippedTruncated} truncated, ${r.skippedFilter} filtered out, ${r.skippedReplayed} replayed before, ${r.skippedNoTarget} without a target topic\n`,
    );
    process.stdout.write(table(`${verb}, by topic:`, r.byTopic));
  }
  if (r.resetPartitions > 0) process.stderr.write(`livetag dlq: ${r.resetPartitions} partition(s) of ${values.from} hold less than --group ${values.group} had replayed (the topic was recreated?): read from their start\n`);
  if (!r.complete) process.stderr.write(`livetag dlq: stopped before the end of ${values.from} (nothing arrived for ${idleTimeoutMs} ms); run again to continue\n`);
  return r.complete ? 0 : 1;
});
