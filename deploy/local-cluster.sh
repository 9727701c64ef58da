#!/usr/bin/env bash
# Two coedit nodes on this machine sharing PostgreSQL and Redis, for trying a cluster out.
# Ctrl-C stops both. Override with COEDIT_DATABASE_URL, COEDIT_REDIS_URL, COEDIT_JWT_SECRET.
set -euo pipefail
cd "$(dirname "$0")/.."
coedit=.venv/bin/coedit
[ -x "$coedit" ] || { echo "run README's install command first ($coedit is missing)" >&2; exit 2; }

export COEDIT_DATABASE_URL="${COEDIT_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test}"
export COEDIT_REDIS_URL="${COEDIT_REDIS_URL:-redis://127.0.0.1:6379/0}"
export COEDIT_JWT_SECRET="${COEDIT_JWT_SECRET:-local-cluster-dev-secret-change-me-0123456789}"

pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait' EXIT INT TERM
for port in 8801 8802; do
  "$coedit" serve --port "$port" --data-dir "data/node-$port" &
  pids+=($!)
done
echo "token for user 'alice': $("$coedit" token --sub alice)"
echo "nodes: http://127.0.0.1:8801  http://127.0.0.1:8802  (Ctrl-C stops them)"
wait
