#!/bin/bash
# Builds the report of experiments/testdata/report_fixture, a hand-written result tree of one synthetic workload:
# steps = 1000 (1 + 64 / B) at sparsity 0 and twice that at 0.9 (B = 2 .. 512; B = 1024 at 0.9 never reached the
# goal), L = 2 (with one spike of 40) and 4 over the dense trial's 200 steps, then 0.5 for 600 more sparse steps: by
# whole-trial means the sparse L (2.09) looks smaller than the dense one (9.6); over the common steps by the median it
# is twice as large, and that ratio predicts the step ratio exactly. Checks the CSVs, report.md (table, fits, L, predictions, verdicts), the PNGs, the summary JSON
# (S_min 1000, B_crit 64 and 2000, 64 recovered; prediction error 0), --compare_dir, and the errors (an unwritable
# report.md included). The fixture has no trial folders: its study.json files are taken as is (result_store.h's
# VerifyStore); the report's refusal of damaged trials is tested by study_test.
set -euo pipefail
report=$1
fail() { echo "FAIL: $*" >&2; exit 1; }

tmp=${TEST_TMPDIR:-$(mktemp -d)}
dir=$tmp/run
rm -rf "$dir" "$tmp/other"
cp -rL experiments/testdata/report_fixture "$dir"
cp -rL experiments/testdata/report_fixture "$tmp/other"
chmod -R u+w "$dir" "$tmp/other"

"$report" "$dir" --bootstrap_resamples=50 > "$tmp/out" 2> "$tmp/err" || { cat "$tmp/err"; fail "report failed"; }

# CSVs.
[[ -s $dir/steps_to_result.csv ]] || fail "no steps_to_result.csv"
[[ "$(head -1 "$dir/steps_to_result.csv")" == workload,sparsity,batch_size,steps_to_result,best_trial,* ]] ||
  fail "steps_to_result.csv header: $(head -1 "$dir/steps_to_result.csv")"
grep -q '^synth/tiny_net/sgd,0,2,33000,1,0.1,' "$dir/steps_to_result.csv" || fail "steps_to_result.csv row B=2"
grep -q '^synth/tiny_net/sgd,0.9,1024,,,' "$dir/steps_to_result.csv" || fail "steps_to_result.csv row without result"
[[ $(wc -l < "$dir/steps_to_result.csv") -eq 12 ]] || fail "steps_to_result.csv: expected 11 rows"
grep -qE '^run,synth/tiny_net/sgd,0.9,128,3000,(2999\.99999|3000(\.0000|$|,))[0-9]*,DIMINISHING_RETURNS,3000$' \
  "$dir/curves.csv" ||
  fail "curves.csv: $(cat "$dir/curves.csv")"
grep -qE '^synth/tiny_net/sgd,0,5,(999\.99999|1000(\.0000|,))' "$dir/fits.csv" || fail "fits.csv: $(cat "$dir/fits.csv")"
grep -q '^synth/tiny_net/sgd,0.9,100,4$' "$dir/lipschitz.csv" || fail "lipschitz.csv: $(cat "$dir/lipschitz.csv")"

# report.md.
md=$dir/report.md
[[ -s $md ]] || fail "no report.md"
for text in 'hand-written fixture --profile=fixture' \
    'B = 2, 8, 32, 128, 512, 1024: 3 trials, goal validation error 0.02, budget 100000 steps' \
    '1 of 33 trials stopped or skipped once they could no longer win; 200000 training examples trained, and it spared at most 100000 more (each stopped trial'"'"'s remaining budget: an upper bound, 33% of what' \
    '| sparsity \ batch size | 2 | 8 | 32 | 128 | 512 | 1024 |' \
    '| 0 | 33000 | 9000 | 3000 | 1500 | 1125 | - |' \
    '| 0.9 | 66000 | 18000 | 6000 | 3000 | 2250 | none |' \
    '| synth/tiny_net/sgd | 0 | 5 | 1000 [' \
    '| 64 [' \
    '2:PS 8:PS 32:DR 128:DR 512:MDP' \
    '| synth/tiny_net/sgd | 0.9 | 11 | 800 | 2.091 | 4 |' \
    '| synth/tiny_net/sgd | 0.9 vs 0 | 200 | 4 / 2 | 2 | 4 / 9.6 | 4 of 5 |' \
    '| synth/tiny_net/sgd | 0 | 3 | 0.5 | 32 | 64 | 128 | 64 [' \
    '| synth/tiny_net/sgd | 0.9 | 3 | 0.2 | 32 | 160 | 160 | 64 [' \
    '1. **Steps fall with batch size through three regimes**: holds -- ' \
    'steps fall monotonically from 33000 (B=2) to 1125 (B=512)' \
    '2. **Sparse networks need more steps at every batch size**: holds -- ' \
    'more steps at all 5 shared batch sizes (ratio 2 to 2)' \
    '3. **Larger L for sparser networks; the L ratio predicts the step ratio**: holds -- ' \
    'L larger (median over steps <= 200: 4 vs 2, ratio 2; larger at 4 of 5 matched steps); the L ratio predicts the step ratio' \
    '![plots/synth_tiny_net_sgd_steps.png](plots/synth_tiny_net_sgd_steps.png)'; do
  grep -qF -- "$text" "$md" || fail "report.md lacks: $text"
done

# PNGs.
for kind in steps normalized lipschitz noise prediction; do
  png=$dir/plots/synth_tiny_net_sgd_$kind.png
  [[ -s $png ]] || fail "no $png"
  [[ "$(head -c 8 "$png" | od -An -c | tr -d ' ')" == *PNG* ]] || fail "$png is not a PNG"
done

# The summary: the last stdout line.
tail -1 "$tmp/out" | /usr/bin/python3 -c '
import json, sys
s = json.loads(sys.stdin.read())
assert s["studies"] == 11, s["studies"]
assert (s["examples_trained"], s["examples_saved_at_most"]) == (200000, 100000), s
fits = {f["sparsity"]: f for f in s["fits"]}
for sparsity, s_min in ((0, 1000), (0.9, 2000)):
    fit = fits[sparsity]["fit"]
    assert abs(fit["min_steps"] / s_min - 1) < 1e-6, fit
    assert abs(fit["critical_batch_size"] / 64 - 1) < 1e-6, fit
    assert fit["min_steps_ci"][0] <= fit["min_steps"] <= fit["min_steps_ci"][1], fit
assert fits[0]["regimes"] == ["PERFECT_SCALING", "PERFECT_SCALING", "DIMINISHING_RETURNS", "DIMINISHING_RETURNS",
                              "MAXIMAL_DATA_PARALLELISM"], fits[0]
assert [round(l["mean"], 4) for l in s["lipschitz"]] == [9.6, 2.0909], s["lipschitz"]
c = s["lipschitz_vs_dense"][0]
assert (c["up_to_step"], c["median"], c["dense_median"], c["ratio"], c["matched_steps"], c["larger_at"]) == \
    (200, 4, 2, 2, 5, 4), c
p = s["predictions"][0]
assert p["sparsity"] == 0.9 and p["count"] == 5 and p["mean_abs_log_error"] < 1e-12, p
assert all(s["verdicts"][k].startswith("holds") for k in "123"), s["verdicts"]
assert len(s["plots"]) == 5, s["plots"]
n = {e["sparsity"]: e for e in s["gradient_noise"]}
assert (n[0]["median_simple_noise_scale"], n[0]["last_simple_noise_scale"]) == (64, 128), n
assert (n[0.9]["median_simple_noise_scale"], n[0.9]["last_simple_noise_scale"]) == (160, 160), n
' || fail "summary JSON: $(tail -1 "$tmp/out")"

# --compare_dir: its table in report.md, its curve in curves.csv.
"$report" "$dir" --compare_dir="$tmp/other" --bootstrap_resamples=0 > "$tmp/out2" 2> "$tmp/err2" ||
  { cat "$tmp/err2"; fail "report --compare_dir failed"; }
grep -qF "### Compared run: $tmp/other" "$dir/report.md" || fail "report.md lacks the compared table"
grep -q '^compare,synth/tiny_net/sgd,0,2,33000,' "$dir/curves.csv" || fail "curves.csv lacks the compared curve"

grep -q '^synth/tiny_net/sgd,0.9,100,-0.1,32,inf$' "$dir/gradient_noise.csv" ||
  fail "gradient_noise.csv: $(cat "$dir/gradient_noise.csv")"

# --compare_dir in Shallue et al.'s public layout (no sparsity level, no goal: steps-to-result from
# measurements.csv at this run's goal 0.02, strictly below it, over COMPLETE trials).
pub=$tmp/public/synth/tiny_net/sgd
mkdir -p "$pub/8/0" "$pub/8/1" "$pub/8/2" "$pub/8/3" "$pub/32/0" "$tmp/public/cifar_10/resnet_8/nesterov_momentum/2"
for b in 8 32; do
  echo "{\"batch_size\": $b, \"dataset\": \"synth\", \"model\": \"tiny_net\", \"optimizer\": \"sgd\",
    \"early_stopping\": false, \"parameter_configs\": {\"learning_rate\": {\"max_value\": 10.0, \"min_value\": 0.0001,
    \"scale\": \"LOG_SCALE\", \"type\": \"DOUBLE\"}}, \"train_steps\": 4000}" > "$pub/$b/study.json"
done
echo '{"batch_size": 2, "dataset": "cifar_10", "model": "resnet_8", "optimizer": "nesterov_momentum"}' \
  > "$tmp/public/cifar_10/resnet_8/nesterov_momentum/2/study.json"
trial() {  # DIR ID STATUS
  echo "{\"_internal_trial_id\": $2, \"parameters\": {\"learning_rate\": 0.$2$2, \"label_smoothing\": 0.0},
    \"status\": \"$3\", \"steps\": 4000, \"trial_id\": $2}" > "$1/$2/metadata.json"
}
header='step,train/classification_error,val/cross_entropy_error,val/classification_error'
trial "$pub/8" 0 COMPLETE
printf '%s\n0,0.9,2.3,0.9\n1000,0.1,0.3,0.1\n2000,0.01,0.1,0.019\n3000,0.01,0.1,0.01\n' "$header" > "$pub/8/0/measurements.csv"
trial "$pub/8" 1 COMPLETE  # Reaches exactly 0.02 at 1500 (not below), below at 2500.
printf '%s\n0,0.9,2.3,0.9\n1500,0.01,0.1,0.02\n2500,0.01,0.1,0.015\n' "$header" > "$pub/8/1/measurements.csv"
trial "$pub/8" 2 INFEASIBLE
trial "$pub/8" 3 INCOMPLETE
trial "$pub/32" 0 COMPLETE
printf '%s\n0,0.9,2.3,0.9\n4000,0.05,0.2,0.05\n' "$header" > "$pub/32/0/measurements.csv"
"$report" "$dir" --compare_dir="$tmp/public" --bootstrap_resamples=0 --plots=false > "$tmp/out6" 2> "$tmp/err6" ||
  { cat "$tmp/err6"; fail "report --compare_dir on the public layout failed"; }
grep -q '^compare,synth/tiny_net/sgd,0,8,2000,' "$dir/curves.csv" || fail "public layout: curves.csv: $(cat "$dir/curves.csv")"
grep -q '^compare,synth/tiny_net/sgd,0,32,' "$dir/curves.csv" && fail "public layout: B=32 reached the goal"
grep -qF '| 0 | 2000 | none |' "$dir/report.md" || fail "public layout: report.md lacks the compared table"
sed -i 's|val/classification_error|val/error|' "$pub/8/1/measurements.csv"
if "$report" "$dir" --compare_dir="$tmp/public" --plots=false > /dev/null 2> "$tmp/err7"; then
  fail "a measurements.csv without val/classification_error succeeded"
fi
grep -q '8/1/measurements.csv: the header lacks step or val/classification_error' "$tmp/err7" ||
  fail "public layout error: $(cat "$tmp/err7")"

# Without L: finding 3 is "not measured".
rm "$dir"/synth/tiny_net/sgd/sparsity_*/lipschitz.csv
"$report" "$dir" --bootstrap_resamples=0 --plots=false > "$tmp/out3" 2> "$tmp/err3" || fail "report without L failed"
grep -qF 'the L ratio predicts the step ratio**: not measured' "$dir/report.md" || fail "finding 3 without L"
grep -qF 'Lipschitz constant L along training

Not measured' "$dir/report.md" 2>/dev/null || grep -q '^Not measured (no `<workload>' "$dir/report.md" ||
  fail "L section without L"

# A report that cannot be written (report.md is a directory: fails as root too) is an error naming it (issue 13).
rm -f "$dir/report.md" && mkdir -p "$dir/report.md/x"
if "$report" "$dir" --bootstrap_resamples=0 --plots=false > "$tmp/out8" 2> "$tmp/err8"; then
  fail "an unwritable report.md succeeded"
fi
grep -q "^report: .*$dir/report.md" "$tmp/err8" || fail "unwritable report.md message: $(cat "$tmp/err8")"
rm -r "$dir/report.md"

# Errors: an empty directory, a broken study.json.
mkdir -p "$tmp/empty"
if "$report" "$tmp/empty" > /dev/null 2> "$tmp/err4"; then fail "an empty directory succeeded"; fi
grep -q 'no study.json' "$tmp/err4" || fail "empty directory message: $(cat "$tmp/err4")"
echo '{"batch_size":' > "$dir/synth/tiny_net/sgd/sparsity_0/2/study.json"
if "$report" "$dir" > /dev/null 2> "$tmp/err5"; then fail "a broken study.json succeeded"; fi
grep -q 'sparsity_0/2/study.json: cannot be parsed' "$tmp/err5" || fail "broken file message: $(cat "$tmp/err5")"
echo PASS
