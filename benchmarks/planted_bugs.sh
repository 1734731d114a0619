#!/usr/bin/env bash
# Plants each of the six bugs of issue 28 in turn, runs the test meant to kill
# it (tests/test_planted_bugs.py), and restores the file.
# Usage: SKLEARN_EMOTION_DATA=../shared bash benchmarks/planted_bugs.sh > benchmarks/results/planted_bugs.md
set -u
cd "$(dirname "$0")/.."
run() { # file old new test
  cp "$1" /tmp/planted_backup
  python - "$1" "$2" "$3" <<'PY'
import sys
p, old, new = sys.argv[1:4]
s = open(p).read()
assert old in s, old
open(p, "w").write(s.replace(old, new, 1))
PY
  r=$(timeout 600 python -m pytest -q tests/test_planted_bugs.py -k "$4" -p no:cacheprovider 2>&1 | tail -1)
  cp /tmp/planted_backup "$1"
  echo "| \`$2\` → \`$3\` | \`$4\` | $r |"
}
echo "Command: \`SKLEARN_EMOTION_DATA=../shared bash benchmarks/planted_bugs.sh > benchmarks/results/planted_bugs.md\`"
echo
echo "Each bug planted alone, then its test run; \"1 failed\" means the test kills it."
echo
echo "| planted change | test (-k) | result |"
echo "|---|---|---|"
run sklearn_emotion/_adapt.py "mu = fold_preds[fold_of]" "mu = fold_preds[np.zeros_like(fold_of)]" brute_force
run sklearn_emotion/_adapt.py "hi = np.partition(mu + R, k_hi - 1, axis=0)[k_hi - 1]" "hi = np.partition(mu + R, k_hi, axis=0)[k_hi]" brute_force
run sklearn_emotion/models/_training.py "        model.set_weights(best_weights)" "        pass" early_stopping
run sklearn_emotion/pipeline.py '"a_min": -clip' '"a_min": None' clips_both
run sklearn_emotion/pipeline.py '("scale", make_scaler(clip))' '("scale", make_scaler())' passes_clip
run sklearn_emotion/features/_base.py 'v = ("keras", v.name, _weights_hash(v))' 'v = ("keras", v.name)' cache_key
