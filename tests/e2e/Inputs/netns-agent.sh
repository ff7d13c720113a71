#!/bin/sh
# Open MPI's rsh agent for hosts that are network namespaces on this machine:
# `netns-agent.sh HOST COMMAND...` runs COMMAND inside the namespace named
# by GPTC_NETNS_<HOST with dots as underscores>, as ssh would on HOST.
host=$1
shift
var=GPTC_NETNS_$(echo "$host" | tr . _)
eval "ns=\${$var}"
if [ -z "$ns" ]; then
  echo "netns-agent.sh: no namespace for host $host (set $var)" >&2
  exit 1
fi
if [ -n "$GPTC_NETNS_LOG" ]; then
  echo "start on $host in namespace $ns:" \
    "$(ip netns exec "$ns" ip -4 -o addr show dev veth1 | awk '{print $4}')" \
    >> "$GPTC_NETNS_LOG"
fi
exec ip netns exec "$ns" sh -c "$*"
