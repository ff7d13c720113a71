#!/bin/sh
# usage: two-hosts.sh PROGRAM ARGS...: runs PROGRAM as a 2-rank MPI job on
# two "hosts", network namespaces 10.200.0.1 and 10.200.0.2 joined by a veth
# pair, talking TCP only. mpirun runs in the first; Open MPI reaches the
# second through netns-agent.sh (which logs each start to $GPTC_NETNS_LOG
# when set). The namespaces are removed on exit.
set -e
here=$(cd "$(dirname "$0")" && pwd)
a=gptc-host-a-$$
b=gptc-host-b-$$
cleanup() {
  ip netns del "$a" 2>/dev/null || true
  ip netns del "$b" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$a"
ip netns add "$b"
ip link add veth0 netns "$a" type veth peer name veth1 netns "$b"
ip -n "$a" addr add 10.200.0.1/24 dev veth0
ip -n "$b" addr add 10.200.0.2/24 dev veth1
for ns in "$a" "$b"; do
  ip -n "$ns" link set lo up
done
ip -n "$a" link set veth0 up
ip -n "$b" link set veth1 up
export GPTC_NETNS_10_200_0_2="$b"
ip netns exec "$a" mpirun --host 10.200.0.1:1,10.200.0.2:1 -np 2 \
  --mca plm_rsh_agent "$here/netns-agent.sh" \
  --mca btl self,tcp --mca btl_tcp_if_include 10.200.0.0/24 \
  --mca oob_tcp_if_include 10.200.0.0/24 \
  "$@"
