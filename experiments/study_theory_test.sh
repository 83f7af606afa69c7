#!/usr/bin/env bash
# //experiments:study with a TheorySpec on a tiny data set: after the studies it retrains the best trial of
# remeasure_batch_size at each sparsity with the trajectory Lipschitz estimator and the gradient noise at the same
# points, writes <workload>/sparsity_<s>/lipschitz.csv and gradient_noise.csv, and its report (last stdout line, report.md) has L per sparsity and the
# theory's prediction error; a second run keeps the files (resume).
set -euo pipefail
source "${TEST_SRCDIR}/${TEST_WORKSPACE}/experiments/tiny_study_lib.sh"
study=$1
write_tiny_mnist=$2
tmp=${TEST_TMPDIR:-$(mktemp -d)}
fail() { echo "FAIL: $*" >&2; exit 1; }

write_tiny_study "$write_tiny_mnist" "$tmp" 3 'theory { lipschitz_interval: 5  remeasure_batch_size: 16 }' ||
  fail "cannot write the data set"
out=$tmp/out
"$study" --config="$tmp/tiny.textproto" --output_dir="$out" --parallel_trials=2 > "$tmp/run.out" 2> "$tmp/run.err" ||
  { cat "$tmp/run.err"; fail "the run failed"; }
for s in 0 0.8; do
  csv=$out/mnist/lenet_300_100/sgd/sparsity_$s/lipschitz.csv
  [[ "$(head -1 "$csv")" == step,lipschitz ]] || fail "$csv: no header"
  [[ $(wc -l < "$csv") -ge 2 ]] || fail "$csv: no estimate"
  awk -F, 'NR > 1 && !($1 % 5 == 0 && $2 > 0) { exit 1 }' "$csv" || fail "$csv: bad rows: $(cat "$csv")"
  noise=${csv%/lipschitz.csv}/gradient_noise.csv
  [[ "$(head -1 "$noise")" == step,loss,gradient_norm_squared,covariance_trace,simple_noise_scale,* ]] ||
    fail "$noise: no header"
  [[ "$(cut -d, -f1 "$noise" | tail -n +2)" == "$(cut -d, -f1 "$csv" | tail -n +2)" ]] ||
    fail "$noise: not measured at the steps of $csv"
  # tr(Sigma) > 0, and the whole training split (540 of the 600 examples; below the default sample of 1000) used.
  awk -F, 'NR > 1 && !($4 > 0 && $6 == 540) { exit 1 }' "$noise" || fail "$noise: bad rows: $(cat "$noise")"
done
tail -1 "$tmp/run.out" | /usr/bin/python3 -c '
import json, sys
s = json.loads(sys.stdin.read())
assert [e["status"] for e in s["theory"]["sparsities"]] == ["measured", "measured"], s["theory"]
r = s["report"]
assert [l["sparsity"] for l in r["lipschitz"]] == [0, 0.8], r["lipschitz"]
assert len(r["fits"]) == 2, r["fits"]
assert [n["sparsity"] for n in r["gradient_noise"]] == [0, 0.8], r["gradient_noise"]
assert not r["verdicts"]["3"].startswith("not measured"), r["verdicts"]
' || fail "summary: $(tail -1 "$tmp/run.out")"
grep -qF '| mnist/lenet_300_100/sgd | 0.8 |' "$out/report.md" || fail "report.md lacks L of sparsity 0.8"
[[ -s $out/plots/mnist_lenet_300_100_sgd_lipschitz.png ]] || fail "no L plot"
[[ -s $out/plots/mnist_lenet_300_100_sgd_noise.png ]] || fail "no noise plot"
grep -qF '## Gradient noise along training' "$out/report.md" || fail "report.md lacks the noise section"

# Resume: the files are kept.
"$study" --config="$tmp/tiny.textproto" --output_dir="$out" --parallel_trials=2 > "$tmp/again.out" 2> "$tmp/again.err" ||
  { cat "$tmp/again.err"; fail "the second run failed"; }
[[ "$(tail -1 "$tmp/again.out")" == *'"status":"kept"'* ]] || fail "the second run measured again"
echo PASS
