#!/usr/bin/env bash
# Side-by-side benchmark: portable-echo against tokio echo peers of the same
# shape (greeting, then echo), on loopback, Linux.
#
# Every round runs every server on every case, one server at a time (the
# order alternates between rounds: A B C, then C B A), each on a fresh
# process. Per run, echo-load measures messages/s, MB/s and latency, and over
# exactly the measured window the server's system calls (perf stat -e
# raw_syscalls:sys_enter -p PID) and CPU time (/proc/PID/stat utime+stime).
# echo-idle measures RSS per idle connection; echo-burst, the time from
# connect to greeting of a burst of clients connecting at once (a listen
# backlog too short for it costs SYN retransmits of a second each). Two
# variants hold the listen queue equal: portable-echo-b128 (--backlog 128,
# what std's, mio's and so tokio's bind use) and tokio-current-b4096
# (portable-echo's default). echo-report prints medians and
# the median of round-by-round ratios against tokio's current-thread runtime,
# and writes target/bench/bench-<stamp>.json (plus the raw .jsonl).
#
# Usage: bench/run.sh [--quick] [--rounds N] [--sizes 64,4096,65536]
#                     [--conns 1,50,1000] [--extra 65536x10] [--duration S]
#                     [--warmup S] [--idle N] [--burst N] [--servers a,b,c]
#                     [--depth N] [--no-perf] [--no-build]
#
# Servers: portable-echo, tokio-current, tokio-multi, portable-echo-b128,
# tokio-current-b4096.
# --idle 0 and --burst 0 skip those probes.
set -euo pipefail

command_line="bench/run.sh $*"
cd "$(dirname "$0")/.."
root=$(pwd)

rounds=5
sizes=64,4096,65536
conns=1,50,1000
extra=65536x10
duration=3
warmup=1
idle=5000
burst=2000
depth=1
servers=portable-echo,tokio-current,tokio-multi
use_perf=1
build=1

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
    case "$1" in
        --quick)
            rounds=2 sizes=64 conns=1,50 extra="" duration=1 warmup=0.3 idle=1000 burst=500
            ;;
        --rounds) rounds=$2; shift ;;
        --sizes) sizes=$2; shift ;;
        --conns) conns=$2; shift ;;
        --extra) extra=$2; shift ;;
        --duration) duration=$2; shift ;;
        --warmup) warmup=$2; shift ;;
        --idle) idle=$2; shift ;;
        --burst) burst=$2; shift ;;
        --depth) depth=$2; shift ;;
        --servers) servers=$2; shift ;;
        --no-perf) use_perf=0 ;;
        --no-build) build=0 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "run.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

if [ "$(uname -s)" != Linux ]; then
    echo "run.sh: needs Linux (/proc, perf)" >&2
    exit 2
fi

if [ "$use_perf" = 1 ] && ! perf stat -e raw_syscalls:sys_enter true >/dev/null 2>&1; then
    echo "run.sh: perf is missing or cannot count raw_syscalls:sys_enter;" \
        "installing linux-perf with apt-get" >&2
    if { apt-get install -y linux-perf >/dev/null 2>&1 \
        || { apt-get update >/dev/null 2>&1 && apt-get install -y linux-perf >/dev/null 2>&1; }; } \
        && perf stat -e raw_syscalls:sys_enter true >/dev/null 2>&1; then
        echo "run.sh: linux-perf installed" >&2
    else
        echo "run.sh: perf unavailable: system calls will not be counted" \
            "(as root: apt-get install linux-perf; sysctl kernel.perf_event_paranoid=-1)" >&2
        use_perf=0
    fi
fi

# Descriptors: the idle and burst probes hold that many connections, in the
# server and here.
want_fds=$(( (idle > burst ? idle : burst) + 2048 ))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want_fds" ]; then
    ulimit -n "$want_fds" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi

out_dir=$root/target/bench
bin=$out_dir/bin
mkdir -p "$bin"
if [ "$build" = 1 ]; then
    echo "building (release)..." >&2
    cargo build --release --quiet --bin portable-echo
    cargo build --release --quiet -p portable-echo-bench
fi
# Copies, so a concurrent rebuild cannot swap binaries in mid-run.
for b in portable-echo echo-tokio echo-load echo-idle echo-burst echo-report; do
    cp "$root/target/release/$b" "$bin/$b.new"
    mv -f "$bin/$b.new" "$bin/$b"
done

stamp=$(date -u +%Y%m%dT%H%M%SZ)
raw=$out_dir/bench-$stamp.jsonl
summary=$out_dir/bench-$stamp.json
log=$out_dir/bench-$stamp.log
: >"$raw"
: >"$log"

server_pid=""
server_addr=""

start_server() {
    local name=$1 out=$out_dir/server.out
    : >"$out"
    case "$name" in
        portable-echo) "$bin/portable-echo" --addr 127.0.0.1:0 >"$out" 2>>"$log" & ;;
        portable-echo-b128) "$bin/portable-echo" --addr 127.0.0.1:0 --backlog 128 >"$out" 2>>"$log" & ;;
        tokio-current) "$bin/echo-tokio" --flavor current --addr 127.0.0.1:0 >"$out" 2>>"$log" & ;;
        tokio-current-b4096) "$bin/echo-tokio" --flavor current --addr 127.0.0.1:0 --backlog 4096 >"$out" 2>>"$log" & ;;
        tokio-multi) "$bin/echo-tokio" --flavor multi --addr 127.0.0.1:0 >"$out" 2>>"$log" & ;;
        *) echo "run.sh: unknown server $name" >&2; exit 2 ;;
    esac
    server_pid=$!
    local i
    for i in $(seq 1 100); do
        if grep -q '^listening on ' "$out"; then
            server_addr=$(awk 'NR == 1 { print $3 }' "$out")
            return 0
        fi
        sleep 0.05
    done
    echo "run.sh: $name did not print its listening line (i=$i)" >&2
    exit 1
}

stop_server() {
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}
trap 'if [ -n "$server_pid" ]; then kill -KILL "$server_pid" 2>/dev/null || true; fi' EXIT

IFS=, read -r -a server_list <<<"$servers"
cases=()
IFS=, read -r -a size_list <<<"$sizes"
IFS=, read -r -a conn_list <<<"$conns"
for s in "${size_list[@]}"; do
    for c in "${conn_list[@]}"; do
        cases+=("${s}x${c}")
    done
done
if [ -n "$extra" ]; then
    IFS=, read -r -a extra_list <<<"$extra"
    cases+=("${extra_list[@]}")
fi

perf_flag=()
if [ "$use_perf" = 1 ]; then
    perf_flag=(--perf)
fi

load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "rounds=$rounds cases=${cases[*]} servers=${server_list[*]} duration=${duration}s warmup=${warmup}s idle=$idle burst=$burst depth=$depth" >&2
for round in $(seq 1 "$rounds"); do
    order=("${server_list[@]}")
    if [ $((round % 2)) = 0 ]; then
        order=()
        for ((i = ${#server_list[@]} - 1; i >= 0; i--)); do
            order+=("${server_list[$i]}")
        done
    fi
    for case in "${cases[@]}"; do
        size=${case%x*}
        n=${case#*x}
        for name in "${order[@]}"; do
            start_server "$name"
            if ! "$bin/echo-load" --addr "$server_addr" --connections "$n" --size "$size" \
                --depth "$depth" --duration "$duration" --warmup "$warmup" \
                --server-pid "$server_pid" "${perf_flag[@]}" --json \
                --label "$name" --round "$round" >>"$raw" 2>>"$log"; then
                echo "run.sh: round $round, $name, $case: echo-load reported errors (see $log)" >&2
            fi
            stop_server
            printf 'round %s %-14s %-9s %s\n' "$round" "$name" "$case" "$(tail -n 1 "$raw" | cut -c1-160)" >>"$log"
        done
        echo "round $round/$rounds: $case done" >&2
    done
    if [ "$idle" -gt 0 ]; then
        for name in "${order[@]}"; do
            start_server "$name"
            "$bin/echo-idle" --addr "$server_addr" --pid "$server_pid" --connections "$idle" \
                --json --label "$name" --round "$round" >>"$raw" 2>>"$log" \
                || echo "run.sh: round $round, $name: echo-idle failed (see $log)" >&2
            stop_server
        done
        echo "round $round/$rounds: idle RSS done" >&2
    fi
    if [ "$burst" -gt 0 ]; then
        for name in "${order[@]}"; do
            start_server "$name"
            "$bin/echo-burst" --addr "$server_addr" --connections "$burst" \
                --json --label "$name" --round "$round" >>"$raw" 2>>"$log" \
                || echo "run.sh: round $round, $name: echo-burst failed (see $log)" >&2
            stop_server
        done
        echo "round $round/$rounds: burst of $burst done" >&2
    fi
done

machine="$(nproc) cores, $(uname -sr), $(sed -n 's/^PRETTY_NAME="\(.*\)"$/\1/p' /etc/os-release), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
"$bin/echo-report" "$raw" --out "$summary" \
    --meta "command: $command_line" \
    --meta "date: $(date -u '+%Y-%m-%d %H:%M UTC')" \
    --meta "machine: $machine" \
    --meta "rustc: $(rustc --version)" \
    --meta "git: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet -- src 2>/dev/null || echo ' (src modified)')" \
    --meta "rounds: $rounds, duration: ${duration}s, warmup: ${warmup}s, depth: $depth, idle: $idle, burst: $burst" \
    --meta "net.core.somaxconn: $(cat /proc/sys/net/core/somaxconn)" \
    --meta "load average at start: $load_at_start, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
ln -sf "$(basename "$summary")" "$out_dir/latest.json"
echo
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $machine; rounds: $rounds x ${duration}s (+${warmup}s warm-up)"
echo "raw runs: $raw"
echo "summary:  $summary"
