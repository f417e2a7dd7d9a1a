#!/usr/bin/env bash
# One command from a fresh checkout to a running gateway (API + workers in one process):
#   bash scripts/up.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f .env ]; then
  cp .env.example .env
  # Fresh keys of this deployment's own: personal data is sealed and phone numbers hashed from the first message.
  key() { node -e "process.stdout.write(require('node:crypto').randomBytes(32).toString('base64'))"; }
  sed -i -e "s|^DATA_KEY=\$|DATA_KEY=$(key)|" -e "s|^HASH_KEY=\$|HASH_KEY=$(key)|" .env
  echo "Generated DATA_KEY and HASH_KEY in .env: keep a copy in a secret store, apart from Redis backups."
  echo "Created .env from .env.example. Fill in PRIMERO_URL, PRIMERO_USER, PRIMERO_PASSWORD and RAPIDPRO_WEBHOOK_TOKEN, then run this again."
  exit 1
fi
set -a; . ./.env; set +a
REDIS_PERSIST=1 bash scripts/ensure-redis.sh
[ -d node_modules ] || npm ci --no-audit --no-fund
exec npm start
