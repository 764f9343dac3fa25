#!/bin/sh
# The retrain CronJob's command: fine-tune on the newest labels, and when the
# challenger beats the champion, publish it into the registry and promote it
# (serving replicas reload it). Arguments after the script go to `livetag train`.
#
# Environment: LIVETAG_REGISTRY (registry root), LIVETAG_KAFKA_BROKERS,
# LIVETAG_LABELS_TOPIC, LIVETAG_LABELS_GROUP, LIVETAG_TRAIN_OUT (scratch run
# directory), LIVETAG_KEEP_VERSIONS, LIVETAG_ANNOUNCE (false: do not announce
# promotions on Kafka).
set -eu

registry="${LIVETAG_REGISTRY:?LIVETAG_REGISTRY is not set}"
out="${LIVETAG_TRAIN_OUT:-/scratch/run}"
# The champion's run directory (bundle, training data, pinned splits): the next
# run's --base, so data accumulates and the test split stays comparable.
champion="$registry/champion"

set --  "$@" --out "$out" --promote-to "$champion"
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
      livetag optimize --model "$champion/bundle" --out "$bundle" --texts "$texts"
    else
      livetag optimize --model "$champion/bundle" --out "$bundle"
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
