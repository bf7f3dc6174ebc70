#!/bin/sh
# Writes the replication stream's seed corpus (Tests/Fuzz/corpus/replication): what Debian's
# redis-server 7.0.15 sends a replica after PSYNC ? -1 — +FULLRESYNC, the RDB of a few keys of every
# type framed both ways (diskless, $EOF:<marker>; from disk, $<length>), then its first commands — and
# a +CONTINUE. Run from the repository root.
set -e
out=Tests/Fuzz/corpus/replication
dir=$(mktemp -d)
mkdir -p "$out"
redis-server --port 0 --unixsocket "$dir/s" --dir "$dir" --save '' --appendonly no --daemonize yes --logfile "$dir/log" \
	--repl-diskless-sync-delay 0
sleep 0.5
cli() { redis-cli -s "$dir/s" "$@" >/dev/null; }
cli SET s hello; cli RPUSH l a 1 300; cli SADD set 1 2 x; cli ZADD z 1 a 2.5 b; cli HSET h f v; cli XADD x 1-1 f v; cli PEXPIRE s 100000
capture() {
	python3 - "$dir/s" "$out/$1" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"REPLCONF capa eof capa psync2\r\n")
assert s.recv(5) == b"+OK\r\n"  # PSYNC with a reply still pending is refused
s.sendall(b"PSYNC ? -1\r\n")
data = b""; end = time.time() + 2
s.settimeout(0.2)
while time.time() < end:
    try:
        chunk = s.recv(65536)
        if not chunk: break
        data += chunk
    except socket.timeout:
        pass
open(sys.argv[2], "wb").write(data[data.index(b"+FULLRESYNC"):])
PY
}
cli CONFIG SET repl-diskless-sync yes; capture diskless
cli CONFIG SET repl-diskless-sync no; capture disk
printf '+CONTINUE 0123456789abcdef0123456789abcdef01234567\r\n*1\r\n$4\r\nPING\r\n' > "$out/continue"
redis-cli -s "$dir/s" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
rm -rf "$dir"
ls -l "$out"
