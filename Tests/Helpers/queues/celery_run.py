"""Sends tasks to a running Celery worker through REDIS_URL and checks every result (some tasks fail on
purpose, some are chained, some are counted down). Prints one line of JSON; exits non-zero on a mismatch."""
import json, os, sys
sys.path.insert(0, os.path.dirname(__file__))
from celery import chain
from celery_app import add, fail

count = int(os.environ.get("TASKS", "100"))
results = [(i, add.delay(i, i)) for i in range(count)]
failures = [(i, fail.delay(i)) for i in range(0, count, 10)]
delayed = [(i, add.apply_async((i, 1), countdown=1)) for i in range(5)]
chained = chain(add.s(1, 2), add.s(10), add.s(100)).apply_async()
for i, r in results:
    assert r.get(timeout=60) == 2 * i, i
for i, r in failures:
    try:
        r.get(timeout=60)
        raise AssertionError("task %d should have failed" % i)
    except ValueError as e:
        assert "failed on purpose" in str(e)
for i, r in delayed:
    assert r.get(timeout=60) == i + 1, i
assert chained.get(timeout=60) == 113
print(json.dumps({"ok": len(results), "failed": len(failures), "delayed": len(delayed), "chain": 113}))
