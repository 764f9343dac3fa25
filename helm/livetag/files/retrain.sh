#!/bin/sh
# The retrain CronJob's command: fine-tune on the newest labels, and when the
# challenger beats the champion, publish it into the registry and promote it
# (serving replicas reload it). Arguments after the script go to `livetag train`.
#
# Environment: LIVETAG_REGISTRY (registry root), LIVETAG_KAFKA_BROKERS,
# LIVETAG_LABELS_TOPIC, LIVETAG_LABELS_GROUP, LIVETAG_TRAIN_OUT (scratch run
# directory), LIVETAG_KEEP_VERSIONS, LIVETAG_ANNOUNCE (false: do not announce
# promotions on Kafka). Domain pretraining: LIVETAG_PRETRAIN (true: keep an
# encoder pretrained on the live comment topic, LIVETAG_INPUT_TOPIC, and the
# colon-separated LIVETAG_PRETRAIN_DATA paths, and start every retrain from
# it), LIVETAG_PRETRAIN_EVERY_DAYS, LIVETAG_PRETRAIN_MAX_RECORDS,
# LIVETAG_PRETRAIN_MAX_SECONDS, LIVETAG_PRETRAIN_EPOCHS, LIVETAG_PRETRAIN_MAX_STEPS.
# LIVETAG_TRAIN_THREADS: onnxruntime threads for pretrain, train and optimize
# (unset: one per core of the node).
set -eu

threads=""
if [ -n "${LIVETAG_TRAIN_THREADS:-}" ]; then threads="--threads $LIVETAG_TRAIN_THREADS"; fi

registry="${LIVETAG_REGISTRY:?LIVETAG_REGISTRY is not set}"
out="${LIVETAG_TRAIN_OUT:-/scratch/run}"
encoder="$registry/encoder"

# Pretrains into scratch, copies the result beside the encoder on the registry
# volume (scratch is another filesystem, where mv copies), and only then swaps
# it in by two renames, so a killed or failed run leaves the previous encoder
# (or, killed between the renames, encoder.old, which the next run puts back).
# Its own positional parameters build the command; the caller's ("$@", the
# train flags) are untouched.
pretrain() {
  fresh="$(dirname "$out")/pretrain"
  rm -rf "$fresh"
  set -- --out "$fresh" --epochs "${LIVETAG_PRETRAIN_EPOCHS:-1}" --max-length 64 --quiet $threads
  if [ -n "${LIVETAG_PRETRAIN_MAX_STEPS:-}" ]; then set -- "$@" --max-steps "$LIVETAG_PRETRAIN_MAX_STEPS"; fi
  if [ -n "${LIVETAG_INPUT_TOPIC:-}" ]; then
    set -- "$@" --topic "$LIVETAG_INPUT_TOPIC" --group livetag-pretrain --kafka-brokers "$LIVETAG_KAFKA_BROKERS" \
      --max-records "${LIVETAG_PRETRAIN_MAX_RECORDS:-1000000}" --max-seconds "${LIVETAG_PRETRAIN_MAX_SECONDS:-600}"
  fi
  old_ifs=$IFS
  IFS=:
  for path in ${LIVETAG_PRETRAIN_DATA:-}; do
    [ -n "$path" ] && set -- "$@" --data "$path"
  done
  IFS=$old_ifs
  livetag pretrain "$@" || return $?
  mkdir -p "$registry"
  rm -rf "$encoder.new" "$encoder.old"
  cp -R "$fresh" "$encoder.new" || { status=$?; rm -rf "$encoder.new"; return "$status"; }
  if [ -d "$encoder" ]; then mv "$encoder" "$encoder.old"; fi
  mv "$encoder.new" "$encoder"
  rm -rf "$encoder.old" "$fresh"
}

# A run killed between the two renames left the previous encoder aside.
if [ ! -d "$encoder" ] && [ -d "$encoder.old" ]; then mv "$encoder.old" "$encoder"; fi

if [ "${LIVETAG_PRETRAIN:-false}" = true ]; then
  # An encoder younger than the refresh period is reused: pretraining is per corpus, not per retrain.
  if [ -f "$encoder/bundle/manifest.json" ] && [ -z "$(find "$encoder/bundle/manifest.json" -mtime +"$((${LIVETAG_PRETRAIN_EVERY_DAYS:-7} - 1))")" ]; then
    echo "retrain: encoder from $(date -r "$encoder/bundle/manifest.json" +%F 2>/dev/null || echo 'an earlier run') reused"
  elif pretrain; then
    echo "retrain: pretrained a new encoder"
  else
    # Training goes on without it (or with the previous one): a quiet topic must not stop retraining.
    echo "retrain: livetag pretrain failed; training from $([ -f "$encoder/bundle/manifest.json" ] && echo 'the previous encoder' || echo 'scratch')" >&2
  fi
  if [ -f "$encoder/bundle/manifest.json" ]; then set -- "$@" --init "$encoder"; fi
fi
# The champion's run directory (bundle, training data, pinned splits): the next
# run's --base, so data accumulates and the test split stays comparable.
champion="$registry/champion"

set --  "$@" --out "$out" --promote-to "$champion" $threads
if [ -f "$champion/bundle/manifest.json" ]; then
  set -- "$@" --base "$champion"
elif [ -f "$registry/current/manifest.json" ]; then
  # First run against a registry seeded by hand: start from its current version.
  set -- "$@" --base "$registry/current"
fi
if [ -n "${LIVETAG_LABELS_TOPIC:-}" ]; then
  set -- "$@" --labels-topic "$LIVETAG_LABELS_TOPIC" --labels-group "${LIVETAG_LABELS_GROUP:-livetag-train}" --kafka-brokers "$LIVETAG_KAFKA_BROKERS"
fi

result="$(dirname "$out")/train-result.txt"
status=0
livetag train "$@" >"$result" || status=$?
cat "$result"
# Kept on the registry volume, whatever the outcome: /scratch goes with the pod,
# and a labels topic's offsets have moved past these records.
if [ -s "$out/rejected.jsonl" ]; then
  mkdir -p "$registry/rejected"
  kept="$registry/rejected/$(date -u +%Y%m%dT%H%M%SZ).jsonl"
  cp "$out/rejected.jsonl" "$kept" && echo "retrain: $(wc -l < "$out/rejected.jsonl" | tr -d ' ') rejected records kept in $kept"
fi
if [ "$status" -ne 0 ]; then
  echo "retrain: livetag train exited $status" >&2
  exit "$status"
fi

if grep -q '"decision":"promoted"' "$result"; then
  bundle="$champion/bundle"
  if [ "${LIVETAG_OPTIMIZE:-true}" = true ]; then
    # Serving variants, each kept only where it gives the same tags as model.onnx.
    bundle="$(dirname "$out")/optimized"
    texts="${LIVETAG_OPTIMIZE_TEXTS:-$out/train-data.jsonl}"
    if [ -f "$texts" ]; then
      livetag optimize --model "$champion/bundle" --out "$bundle" --texts "$texts" $threads
    else
      livetag optimize --model "$champion/bundle" --out "$bundle" $threads
    fi
  fi
  id=$(livetag models publish "$bundle" | sed -n 's/^published //p')
  if [ -z "$id" ]; then
    echo "retrain: livetag models publish printed no version" >&2
    exit 1
  fi
  if [ "${LIVETAG_ANNOUNCE:-true}" = true ]; then
    livetag models promote "$id"
  else
    # Announcements switched off: replicas find the promotion by polling the
    # registry (LIVETAG_REGISTRY_POLL_MS) instead.
    LIVETAG_KAFKA_BROKERS= livetag models promote "$id"
  fi
  livetag models prune --keep "${LIVETAG_KEEP_VERSIONS:-5}"
  echo "retrain: promoted $id"
else
  echo "retrain: champion kept"
fi
