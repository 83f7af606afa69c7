#!/usr/bin/env bash
# Copies what a study's report is made from (and the report itself) out of a study's output folder into a folder
# meant for the repository: the resolved spec, every study.json, the theory CSVs, the tables, report.md and the plots;
# not the 32+ trial folders of each study (their records stay in the output folder). Then regenerates the report in
# the copy with //experiments:report, to show that the copy is complete.
#
#   tools/results/publish_study.sh REPORT_BINARY STUDY_OUTPUT_DIR RESULTS_DIR
set -euo pipefail
report=$1 source=$2 target=$3
mkdir -p "$target"
(cd "$source" && find . \( -name study.json -o -name study_spec.textproto -o -name lipschitz.csv \
    -o -name gradient_noise.csv \) -not -path '*.damaged.*' -print0) |
  while IFS= read -r -d '' file; do
    mkdir -p "$target/$(dirname "$file")"
    cp "$source/$file" "$target/$file"
  done
# Trial folders are left out, so the published tree holds study.json files only (report.h accepts that).
"$report" "$target" >"$target/report.json"
echo "published $(find "$target" -name study.json | wc -l) studies into $target"
