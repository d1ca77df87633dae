#!/usr/bin/env bash
# Shards on one or more machines with GNU parallel, then one merge.
#   examples/scale/parallel.sh LIBRARY OUT_DIR [N] [COMMAND]
# COMMAND: stats (default), validate, format-stats, hash or export. IMAGE_SIDECAR overrides the
# program (e.g. "node dist/cli.js"). Add `-S host1,host2` to parallel to spread over machines that
# see LIBRARY and OUT_DIR at the same paths.
set -euo pipefail
lib=$(cd "$1" && pwd)
out=$2
n=${3:-8}
cmd=${4:-stats}
isc=${IMAGE_SIDECAR:-image-sidecar}
extra=()
[ "$cmd" = export ] && extra=(--format jsonl)
mkdir -p "$out"
# Exit 1 means findings (invalid files, an unreadable folder): the shard output is complete and
# the merge reports them. Only exit 2 (usage or fatal) fails a job.
# {#} is GNU parallel's job number (1..N), the same number PARALLEL_SEQ holds: --shard auto/N uses it.
seq 1 "$n" | parallel -j "$n" --halt soon,fail=1 \
  "$isc $cmd '$lib' ${extra[*]} --shard auto/$n -q -o '$out/$cmd-{#}.jsonl' || [ \$? -eq 1 ]"
merged=$out/$cmd.merged
[ "$cmd" = validate ] || [ "$cmd" = export ] && merged=$out/$cmd.merged.jsonl
$isc merge "$out"/"$cmd"-*.jsonl $([ "$cmd" = validate ] && echo --jsonl) -o "$merged" || [ $? -eq 1 ]
echo "$merged"
