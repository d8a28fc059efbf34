# Shared by the bench scripts; source it.

# best_of N COMMAND...: the best wall time of N runs of COMMAND, in
# seconds. Before each run, the script's before_run function, if it has one
# (to remove the last run's output, say).
best_of() {
  local n=$1 b=999999 s e
  shift
  for _ in $(seq "$n"); do
    if declare -F before_run >/dev/null; then before_run; fi
    s=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    e=$(date +%s.%N)
    b=$(echo "$b $s $e" | awk '{d=$3-$2; print (d<$1)?d:$1}')
  done
  echo "$b"
}
