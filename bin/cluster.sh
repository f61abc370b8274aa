#!/usr/bin/env bash
# Tries hookcast's shared mode on one machine: a NATS server with JetStream (max_payload raised for thumbnails) and
# three gateways on ports 8081-8083 sharing its queue and stream state, as three instances behind a load balancer
# would. Ctrl-C stops them all. Needs nats-server (Debian: apt-get install nats-server) and `npm install` done.
#
#   bin/cluster.sh                 # then post hooks to any of the three, e.g.:
#   npx hookcast send feeds-started --url http://127.0.0.1:8081/hooks/millicast --stream ACME/lobby
#   npx hookcast send thumbnail     --url http://127.0.0.1:8083/hooks/millicast --stream ACME/lobby
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d -t hookcast-cluster-XXXX)
port=${NATS_PORT:-4222}
cat > "$work/nats.conf" <<CONF
host: 127.0.0.1
port: $port
max_payload: 17MB
jetstream { store_dir: "$work/jetstream" }
CONF
cat > "$work/config.yaml" <<CONF
server: { host: 127.0.0.1 }
sources:
  millicast: { path: /hooks/millicast, secrets: ["\${MILLICAST_WEBHOOK_SECRET:-bWlsbGljYXN0LXRlc3Qtc2VjcmV0LTAxMjM0NTY3ODk=}"] }
sinks:
  disk: { type: fs, dir: "$work/data" }
spool: { type: nats, servers: ["nats://127.0.0.1:$port"] }
admin: { token: "\${HOOKCAST_ADMIN_TOKEN:-try-the-cluster-locally-0123}" }
routes:
  - to: [disk]
  - when: { type: [stream] }
    to: [disk]
CONF
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait; echo "files: $work"' EXIT
nats-server -c "$work/nats.conf" & pids+=($!)
sleep 1
for i in 1 2 3; do
  PORT=808$i node --import tsx adapters/node.ts --config "$work/config.yaml" & pids+=($!)
done
echo "NATS on $port; gateways on http://127.0.0.1:8081, :8082, :8083 (page: token try-the-cluster-locally-0123); files under $work"
wait
