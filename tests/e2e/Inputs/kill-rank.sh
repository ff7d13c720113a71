#!/bin/sh
# usage: kill-rank.sh FILE PROGRAM ARGS...: this MPI rank runs PROGRAM and
# is killed with SIGKILL half a second after FILE appears (waiting 60 s at
# most).
file=$1
shift
self=$$
(
  tries=0
  while [ ! -f "$file" ] && [ $tries -lt 600 ]; do
    sleep 0.1
    tries=$((tries + 1))
  done
  sleep 0.5
  kill -9 $self
) &
exec "$@"
