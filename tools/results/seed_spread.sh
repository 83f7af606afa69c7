#!/usr/bin/env bash
# The spread of steps-to-result over initialization seeds at one batch size and learning rate: how far apart two runs
# of "the same" trial land, which is what a difference between two curves must exceed to mean anything.
#
#   tools/results/seed_spread.sh TRAIN OUT_CSV BATCH_SIZE LEARNING_RATE SPARSITY [SEEDS] [FIRST_SEED]
#
# Runs //experiments:train (binary TRAIN) on MNIST Simple-CNN with SGD, goal 0.02, budget 40,000 steps, checks every
# 100 steps (with early exit: exact), seeds FIRST_SEED .. FIRST_SEED+SEEDS-1 (default 0 .. 7; several calls with
# different seeds can run side by side on separate CSVs), SNIP over the whole training set when SPARSITY > 0, and
# appends one row per seed to OUT_CSV:
#   sparsity,batch_size,learning_rate,seed,status,steps_to_result,wall_seconds
# then prints the mean, standard deviation, min and max of the completed seeds' steps-to-result.
set -euo pipefail
train=$1 out=$2 batch_size=$3 learning_rate=$4 sparsity=$5 seeds=${6:-8} first_seed=${7:-0}
[[ -f "$out" ]] || echo "sparsity,batch_size,learning_rate,seed,status,steps_to_result,wall_seconds" >"$out"
pruning=()
if [[ $sparsity != 0 ]]; then pruning=(--pruning=snip --sparsity="$sparsity" --snip_batches=0); fi
for seed in $(seq "$first_seed" $((first_seed + seeds - 1))); do
  json=$("$train" --dataset=mnist --network=simple_cnn --optimizer=sgd --learning_rate="$learning_rate" \
    --batch_size="$batch_size" --goal_error=0.02 --max_steps=40000 --check_interval=100 --check_early_exit \
    --seed="$seed" "${pruning[@]}" 2>/dev/null | tail -1)
  python3 - "$json" "$out" "$sparsity" "$batch_size" "$learning_rate" "$seed" <<'PY'
import json, sys
record = json.loads(sys.argv[1])
steps = record["steps_to_result"]
with open(sys.argv[2], "a") as out:
    out.write(",".join([sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6], record["status"],
                        "" if steps is None else str(steps), "%.1f" % record["wall_seconds"]]) + "\n")
print("seed %s: %s %s" % (sys.argv[6], record["status"], steps), file=sys.stderr)
PY
done
python3 - "$out" "$sparsity" "$batch_size" <<'PY'
import csv, statistics, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["sparsity"] == sys.argv[2] and r["batch_size"] == sys.argv[3]]
steps = [int(r["steps_to_result"]) for r in rows if r["status"] == "COMPLETE"]
if steps:
    print("sparsity %s, B=%s: %d of %d seeds complete; steps-to-result mean %.0f, sd %.0f, min %d, max %d (max/min %.2f)"
          % (sys.argv[2], sys.argv[3], len(steps), len(rows), statistics.mean(steps),
             statistics.stdev(steps) if len(steps) > 1 else 0, min(steps), max(steps), max(steps) / min(steps)))
else:
    print("sparsity %s, B=%s: no seed completed" % (sys.argv[2], sys.argv[3]))
PY
