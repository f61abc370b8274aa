#!/usr/bin/env bash
# Tries hookcast's shared mode on one machine: a stock NATS server with JetStream (its default max_payload; larger
# bodies are stored in chunks) and three gateways sharing its queue and stream state, as three instances behind a
# load balancer would. The gateways run the built JavaScript (dist/node: `npm run build` first). Ctrl-C stops them
# all. Needs nats-server (Debian: apt-get install nats-server).
#
#   bin/cluster.sh                        # gateways on 8081 8082 8083, NATS on 4222
#   bin/cluster.sh 9001 9002 9003         # gateways on these ports
#   PORTS="9001 9002" NATS_PORT=4333 bin/cluster.sh
#   npx hookcast send feeds-started --url http://127.0.0.1:8081/hooks/millicast --stream ACME/lobby
#   npx hookcast send thumbnail     --url http://127.0.0.1:8083/hooks/millicast --stream ACME/lobby
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f dist/node/adapters/node.js ]; then
  echo "no dist/node/adapters/node.js: run npm run build first" >&2
  exit 1
fi
if [ "$#" -gt 0 ]; then ports=("$@"); else read -r -a ports <<< "${PORTS:-8081 8082 8083}"; fi
nats_port=${NATS_PORT:-4222}
work=$(mktemp -d -t hookcast-cluster-XXXX)
cat > "$work/config.yaml" <<CONF
server: { host: 127.0.0.1 }
sources:
  millicast: { path: /hooks/millicast, secrets: ["\${MILLICAST_WEBHOOK_SECRET:-bWlsbGljYXN0LXRlc3Qtc2VjcmV0LTAxMjM0NTY3ODk=}"] }
sinks:
  disk: { type: fs, dir: "$work/data" }
spool: { type: nats, servers: ["nats://127.0.0.1:$nats_port"] }
admin: { token: "\${HOOKCAST_ADMIN_TOKEN:-try-the-cluster-locally-0123}" }
routes:
  - to: [disk]
  - when: { type: [stream] }
    to: [disk]
CONF
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait; echo "files: $work"' EXIT
nats-server -js -a 127.0.0.1 -p "$nats_port" -sd "$work/jetstream" & pids+=($!)
sleep 1
urls=()
for port in "${ports[@]}"; do
  PORT=$port node dist/node/adapters/node.js --config "$work/config.yaml" & pids+=($!)
  urls+=("http://127.0.0.1:$port")
done
echo "NATS on $nats_port; gateways on ${urls[*]} (page: token try-the-cluster-locally-0123); files under $work"
wait
