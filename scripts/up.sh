#!/usr/bin/env bash
# One command from a fresh checkout to a running gateway (API + workers in one process):
#   bash scripts/up.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f .env ]; then
  cp .env.example .env
  echo "Created .env from .env.example. Fill in PRIMERO_URL, PRIMERO_USER, PRIMERO_PASSWORD and RAPIDPRO_WEBHOOK_TOKEN, then run this again."
  exit 1
fi
set -a; . ./.env; set +a
bash scripts/ensure-redis.sh
[ -d node_modules ] || npm ci --no-audit --no-fund
exec npm start
