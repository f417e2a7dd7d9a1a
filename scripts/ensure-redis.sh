#!/usr/bin/env bash
# Makes sure a Redis answers at REDIS_URL (default redis://127.0.0.1:6379). Starts a local one when none
# answers, installing redis-server with apt-get if needed (and always under CI, whose chaos tests start private
# instances). With REDIS_PERSIST=1 (scripts/up.sh: the real gateway) the Redis it starts keeps every write in an
# append-only file under REDIS_DATA_DIR (default ./data/redis), as the reliability guarantees assume; otherwise
# (tests) it keeps nothing on disk.
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

install_redis() {
  command -v redis-server >/dev/null 2>&1 && return 0
  echo "redis-server is not installed; installing it with apt-get"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
}

case "$url" in
  rediss://*) echo "Redis over TLS at $host:$port: not probed here (the gateway reports it at start)"; exit 0 ;;
esac

if answers; then
  echo "Redis answers at $host:$port"
  [ -n "${CI:-}" ] && install_redis
  exit 0
fi
install_redis

case "$host" in
  127.0.0.1|localhost) ;;
  *) echo "Redis at $host:$port does not answer, and it is not local, so it cannot be started here." >&2; exit 1 ;;
esac

if [ "${REDIS_PERSIST:-}" = "1" ]; then
  dir="${REDIS_DATA_DIR:-$PWD/data/redis}"; mkdir -p "$dir"
  echo "Starting redis-server on $host:$port, keeping its data in $dir (append-only file, fsync every second)"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --appendonly yes --appendfsync everysec \
    --maxmemory-policy noeviction --dir "$dir" --logfile "$dir/redis.log" >/dev/null
else
  echo "Starting redis-server on $host:$port (keeps nothing on disk: for tests)"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no --dir /tmp >/dev/null
fi
for _ in $(seq 1 50); do answers && { echo "Redis answers at $host:$port"; exit 0; }; sleep 0.1; done
echo "redis-server did not come up on $host:$port" >&2
exit 1
