"""redis-py's Lock and the `limits` rate limiter against a server named by REDIS_URL: both run Lua
scripts (Lock's release, extend and reacquire; the moving window, sliding window counter and fixed
window strategies). Prints one line of JSON with what it saw; exits non-zero on the first mismatch."""
import json, os, sys, threading, time
import redis
from redis.exceptions import LockNotOwnedError
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter, SlidingWindowCounterRateLimiter

url = os.environ["REDIS_URL"]
conn = redis.Redis.from_url(url)
conn.flushdb()
seen = {}

# Lock: acquire, a second owner waits and fails, extend, release by another owner refused.
lock = conn.lock("resource", timeout=5)
assert lock.acquire(blocking=False)
other = conn.lock("resource", timeout=5)
assert not other.acquire(blocking=True, blocking_timeout=0.2), "a held lock was taken"
assert lock.extend(10) and conn.pttl("resource") > 9000, "extend"
assert lock.reacquire() and conn.pttl("resource") <= 5000, "reacquire"
other.local.token = b"not-the-owner"
try:
    other.release()
    raise AssertionError("another owner released the lock")
except LockNotOwnedError:
    pass
assert lock.owned() and not other.owned()
lock.release()
assert conn.get("resource") is None
seen["lock"] = "ok"

# Contention: threads increment a plain counter under the lock (GET then SET), none lost.
threads, rounds = 4, 25
def work():
    for _ in range(rounds):
        with conn.lock("counter-lock", timeout=5, blocking_timeout=30, sleep=0.001):
            conn.set("counter", int(conn.get("counter") or 0) + 1)
workers = [threading.Thread(target=work) for _ in range(threads)]
for w in workers: w.start()
for w in workers: w.join()
seen["counter"] = int(conn.get("counter"))
assert seen["counter"] == threads * rounds, seen

# limits: 5 per 2 seconds in each strategy, then the window's state.
storage = storage_from_string(url)
item = parse("5/2 seconds")
for name, strategy in (("moving", MovingWindowRateLimiter), ("sliding", SlidingWindowCounterRateLimiter), ("fixed", FixedWindowRateLimiter)):
    limiter = strategy(storage)
    allowed = sum(1 for _ in range(8) if limiter.hit(item, name, "client"))
    stats = limiter.get_window_stats(item, name, "client")
    assert not limiter.test(item, name, "client"), name
    limiter.clear(item, name, "client")
    assert limiter.test(item, name, "client"), (name, "after clear")
    seen[name] = {"allowed": allowed, "remaining": stats.remaining}
print(json.dumps(seen, sort_keys=True))
