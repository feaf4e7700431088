#!/usr/bin/env bash
# The main job: start the local Metronome-compatible server and apply the demo pricing stack
# (examples/ai_pricing, project in ./Pulumi.yaml) to it with `pulumi up`, on a fresh machine.
# State and the server's data live in .pulumi-local/, so running it again is a no-op update.
# It ends with the pricing impact of a sample change, previewed (never applied).
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=server source scripts/env.sh

STACK=${STACK:-local}
TOKEN=local-dev-token
python -m metronome_local --port 0 --db "$LOCAL_DIR/metronome.db" --token "$TOKEN" \
    >"$LOCAL_DIR/server.out" 2>"$LOCAL_DIR/server.log" &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    URL=$(grep -o 'http://[0-9.:]*' "$LOCAL_DIR/server.out" 2>/dev/null || true)
    [[ -n $URL ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$LOCAL_DIR/server.log" >&2; exit 1; }
    sleep 0.1
done
[[ -n $URL ]] || { echo "the local server did not start; see $LOCAL_DIR/server.log" >&2; exit 1; }
echo "local Metronome-compatible server: $URL (data in $LOCAL_DIR/metronome.db)"

pulumi stack select --create "$STACK" >/dev/null
pulumi config set metronome:baseUrl "$URL"
pulumi config set --secret metronome:bearerToken "$TOKEN"
# The demo's customers exist before the stack: its alert watches Acme Robotics' spend.
pulumi config set alertCustomerId \
    "$(python scripts/demo_usage.py --customer acme-robotics "$URL" "$TOKEN")"
pulumi up --yes --skip-preview
echo "created metric ids:"
METRIC_IDS=$(pulumi stack output metric_ids --json)
echo "$METRIC_IDS"
# Usage: a week of sample events for three customers, and what the metrics make of them
# (the events also written to a file, for the impact below).
EVENTS="$LOCAL_DIR/demo-events.jsonl"
python scripts/demo_usage.py "$URL" "$TOKEN" "$METRIC_IDS" "$EVENTS"

# The pricing impact of a sample change over these events, as a pull request would show it:
# billing client errors (a filter change) and a new API request price from next month. The
# change is only previewed (`pulumi preview --json`), never applied.
echo
echo "pricing impact of a sample change (AI_PRICING_SAMPLE_CHANGE=1, previewed, not applied):"
pulumi stack export >"$LOCAL_DIR/state.json"
AI_PRICING_SAMPLE_CHANGE=1 pulumi preview --json >"$LOCAL_DIR/plan.json"
pulumi-metronome impact --state "$LOCAL_DIR/state.json" --plan "$LOCAL_DIR/plan.json" \
    --events "$EVENTS" --quiet
