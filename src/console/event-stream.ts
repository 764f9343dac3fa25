/** The sending side of one Server-Sent Events stream of console snapshots. */

export interface SnapshotSource {
  /** Bumped on every change, so an unchanged view is not sent again. */
  version(): number;
  snapshot(now: number): unknown;
}

export interface EventSink {
  /** Bytes queued but not yet handed to the socket (a ServerResponse's writableLength). */
  readonly writableLength: number;
  write(chunk: string): unknown;
}

export interface PushLimits {
  /** Unsent bytes above which a push is skipped. */
  readonly maxBufferedBytes: number;
  /** Counts age with the clock: resend this often even when nothing changed. */
  readonly idlePushMs: number;
}

/**
 * One push per call, at most: the latest snapshot when the view changed or has
 * gone stale. A client that stopped reading (a frozen tab, a stuck proxy)
 * gets the latest snapshot once it drains, not every one queued meanwhile.
 */
export function createSnapshotPush(sink: EventSink, source: SnapshotSource, limits: PushLimits, clock: () => number = Date.now): () => boolean {
  let sentVersion = -1;
  let sentAt = 0;
  return () => {
    if (sink.writableLength > limits.maxBufferedBytes) return false;
    const now = clock();
    const version = source.version();
    if (version === sentVersion && now - sentAt < limits.idlePushMs) return false;
    sentVersion = version;
    sentAt = now;
    sink.write(`data: ${JSON.stringify(source.snapshot(now))}\n\n`);
    return true;
  };
}
