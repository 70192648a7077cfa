# Sourced by bench/collect.sh, bench/collect-threads.sh and bench/soak.sh: darkstab collect fed over
# UDP on 127.0.0.1, with the darknet and the two analyses of bench/bench.yaml.

# bench_dir DIR: creates DIR, writable by the collector (as root it runs as
# nobody, see collect_config)
bench_dir() {
    mkdir -p "$1"
    chmod 0777 "$1"
}

# collect_config FILE DB PORT MPORT [COLLECTOR LINE...]: bench/bench.yaml,
# then a store at DB, an IPFIX listener on 127.0.0.1:PORT with a 64 MB
# socket buffer, the extra collector lines, and the metrics on MPORT
collect_config() {
    file=$1
    db=$2
    port=$3
    mport=$4
    shift 4
    {
        cat "$(dirname "$0")/bench.yaml"
        echo "store:"
        echo "  path: $db"
        echo "collector:"
        echo "  listen:"
        echo "    - {protocol: ipfix, address: 127.0.0.1, port: $port}"
        echo "  receive_buffer: 64M"
        for l in "$@"; do echo "$l"; done
        [ "$(id -u)" = 0 ] && echo "  user: nobody"
        echo "metrics:"
        echo "  listen: 127.0.0.1:$mport"
    } > "$file"
}

# metric_sum MPORT NAME: the sum of metric NAME over its label sets (0 if none)
metric_sum() {
    curl -s "http://127.0.0.1:$1/metrics" |
        awk -v m="$2" 'index($0, m) == 1 {s += $NF} END {printf "%.0f\n", s}'
}

# raise_rmem: lets a socket have a 64 MB receive buffer (net.core.rmem_max),
# when we may, and puts the old limit back at exit
raise_rmem() {
    old_rmem=$(cat /proc/sys/net/core/rmem_max)
    if [ "$old_rmem" -lt 67108864 ] && [ -w /proc/sys/net/core/rmem_max ]; then
        echo 67108864 > /proc/sys/net/core/rmem_max
        trap 'echo "$old_rmem" > /proc/sys/net/core/rmem_max' EXIT
    fi
}

# settle COUNTER_CMD: waits until COUNTER_CMD's output stops growing; leaves
# its last output in $now
settle() {
    last=-1
    while :; do
        sleep 1
        now=$(eval "$1")
        [ "$now" = "$last" ] && break
        last=$now
    done
}
