#!/usr/bin/env bash
# Makes sure a Redis answers at REDIS_URL (default redis://127.0.0.1:6379) and that redis-server is
# installed (some tests start private instances). Starts a local one, installing it with apt-get if needed.
set -euo pipefail
url="${REDIS_URL:-redis://127.0.0.1:6379}"
hostport="${url#*://}"; hostport="${hostport#*@}"; hostport="${hostport%%/*}"
host="${hostport%%:*}"; port="${hostport##*:}"; [ "$port" = "$hostport" ] && port=6379

answers() {
  { exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null || return 1
  printf 'PING\r\n' >&3
  local line=""; read -r -t 2 line <&3 || true
  exec 3<&- 3>&-
  [[ "$line" == +PONG* || "$line" == -NOAUTH* ]]
}

if ! command -v redis-server >/dev/null 2>&1; then
  echo "redis-server is not installed; installing it with apt-get"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi

if answers; then
  echo "Redis answers at $host:$port"
  exit 0
fi

case "$host" in
  127.0.0.1|localhost) ;;
  *) echo "Redis at $host:$port does not answer, and it is not local, so it cannot be started here." >&2; exit 1 ;;
esac

echo "Starting redis-server on $host:$port"
redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no --dir /tmp >/dev/null
for _ in $(seq 1 50); do answers && { echo "Redis answers at $host:$port"; exit 0; }; sleep 0.1; done
echo "redis-server did not come up on $host:$port" >&2
exit 1
