# Sourced by tests/e2e/clickhouse.sh and bench/clickhouse.sh: two real
# ClickHouse servers (Debian's clickhouse-server) on 127.0.0.1 as the two
# shards of cluster "dk", each with its own config, data directory and
# ports under $T.  The caller sets T (a directory it removes) and PIDS (the
# processes it stops), and may set CH_PASSWORD: the password of a second
# user, "darkstab", beside "default" (no password).
#
#   ch_setup               picks the ports (HTTP1, TCP1, HTTP2, TCP2), writes the configs
#   start NAME HTTP        starts shard s1 or s2, its PID in $T/NAME.pid; waits until it answers
#   kill_shards NAME...    kills shards (a shard that dies; an orderly stop takes 5-8 s), waits
#   q PORT SQL             the answer, or the server's error on stderr and a failure
#   free_port N            a TCP port nobody listens on

CH=/usr/sbin/clickhouse-server

free_port() {
    p=$((20000 + ($$ * 7 + ${1:-0} * 131) % 30000))
    while ss -Hlnt "sport = :$p" | grep -q .; do
        p=$((p + 1))
    done
    echo "$p"
}

# shard_config NAME HTTP TCP: a server's config; both list both shards as cluster "dk"
shard_config() {
    d="$T/$1"
    mkdir -p "$d"
    cat > "$d/config.xml" << EOF
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$d/server.log</log><errorlog>$d/server.err.log</errorlog></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$2</http_port>
  <tcp_port>$3</tcp_port>
  <path>$d/data/</path>
  <tmp_path>$d/data/tmp/</tmp_path>
  <users_config>$T/users.xml</users_config>
  <mark_cache_size>268435456</mark_cache_size>
  <timezone>UTC</timezone>
  <remote_servers>
    <dk>
      <shard><replica><host>127.0.0.1</host><port>$TCP1</port></replica></shard>
      <shard><replica><host>127.0.0.1</host><port>$TCP2</port></replica></shard>
    </dk>
  </remote_servers>
</yandex>
EOF
}

ch_setup() {
    HTTP1=$(free_port 1)
    TCP1=$(free_port 2)
    HTTP2=$(free_port 3)
    TCP2=$(free_port 4)
    cat > "$T/users.xml" << EOF
<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
  <users>
    <default><password></password><networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile><quota>default</quota></default>
    <darkstab><password>${CH_PASSWORD:-}</password><networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile><quota>default</quota></darkstab>
  </users>
  <quotas><default/></quotas>
</yandex>
EOF
    shard_config s1 "$HTTP1" "$TCP1"
    shard_config s2 "$HTTP2" "$TCP2"
}

start() {
    "$CH" --config-file="$T/$1/config.xml" > "$T/$1/stdout.log" 2>&1 &
    echo $! > "$T/$1.pid"
    PIDS="$PIDS $!"
    i=0
    while [ "$(curl -s "http://127.0.0.1:$2/?query=SELECT%201")" != 1 ]; do
        i=$((i + 1))
        [ $i -gt 300 ] && return 1
        sleep 0.1
    done
}

kill_shards() {
    for s in "$@"; do kill -9 "$(cat "$T/$s.pid")" 2> /dev/null; done
    for s in "$@"; do wait "$(cat "$T/$s.pid")" 2> /dev/null; done
}

q() {
    curl -sS --fail-with-body "http://127.0.0.1:$1/" --data-binary "$2"
}
