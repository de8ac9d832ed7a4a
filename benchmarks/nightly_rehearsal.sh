#!/usr/bin/env bash
# Rehearse the nightly job on one machine, as two GPU machines and a publisher would do it:
# a bare copy of this repository stands for GitHub, two clones stand for two machines.
# Both run `benchsite nightly --commit --push` at the same time, then one publishes with mike.
# Prints how long each step took, from start to a published site.
#
# Usage: bash benchmarks/nightly_rehearsal.sh [SUITE]   (default: quick; needs the venv from the README)
set -euo pipefail
SUITE=${1:-quick}
HERE=$(cd "$(dirname "$0")/.." && pwd)
BENCHSITE=${BENCHSITE:-$HERE/.venv/bin/benchsite}
WORK=$(mktemp -d /tmp/benchsite-rehearsal.XXXXXX)
now() { date +%s.%N; }
since() { python3 -c "print(f'{$(now) - $1:.1f}')"; }

git clone --quiet --bare "$HERE" "$WORK/origin.git"
for machine in gpu-a gpu-b; do
  git clone --quiet "$WORK/origin.git" "$WORK/$machine"
  git -C "$WORK/$machine" config user.name "rehearsal $machine"
  git -C "$WORK/$machine" config user.email "$machine@example.invalid"
done

# Two "machines" share this machine's cores: one thread each, or their thread pools thrash (10x slower on 2 cores).
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} TF_NUM_INTRAOP_THREADS=${TF_NUM_INTRAOP_THREADS:-1} TF_NUM_INTEROP_THREADS=${TF_NUM_INTEROP_THREADS:-1}
start=$(now)
(cd "$WORK/gpu-a" && "$BENCHSITE" nightly --suite "$SUITE" --commit --push > "$WORK/gpu-a.log" 2>&1) & a=$!
(cd "$WORK/gpu-b" && "$BENCHSITE" nightly --suite "$SUITE" --commit --push > "$WORK/gpu-b.log" 2>&1) & b=$!
wait $a; wait $b
runs_done=$(since "$start")
echo "both machines ran '$SUITE', committed and pushed in ${runs_done}s (logs: $WORK/gpu-a.log, $WORK/gpu-b.log)"
grep -h "push rejected\|pushed" "$WORK"/gpu-*.log

publish_start=$(now)
git -C "$WORK/gpu-a" pull --quiet --rebase origin main
(cd "$WORK/gpu-a" && "$BENCHSITE" publish --strict --version rehearsal --alias latest --push)
echo "published in $(since "$publish_start")s; start to published site: $(since "$start")s"
echo "origin main now holds $(git -C "$WORK/origin.git" ls-tree -r --name-only main results | grep -c '\.yaml$') result files"
echo "versions.json on gh-pages: $(git -C "$WORK/origin.git" show gh-pages:versions.json)"
echo "preview every published version locally: cd $WORK/gpu-a && $(dirname "$BENCHSITE")/mike serve -F build/mkdocs.yml"
