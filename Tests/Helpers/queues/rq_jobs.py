"""python-rq end to end against a server named by REDIS_URL: jobs enqueued (some failing, some scheduled,
some depending on others, some unique: rq's Lua scripts refuse a second job with the same id, queued or
scheduled), one burst worker with the scheduler (whose lock is a Lua script too), then every result and
registry checked.
Prints one line of JSON with what it found; exits non-zero on the first mismatch."""
import json, os, sys, time
from datetime import timedelta

sys.path.insert(0, os.path.dirname(__file__))
import redis
from rq import Queue, Worker
from rq.exceptions import DuplicateJobError
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, FinishedJobRegistry, ScheduledJobRegistry
import rq_tasks

url = os.environ["REDIS_URL"]
count = int(os.environ.get("JOBS", "300"))
conn = redis.Redis.from_url(url)
conn.flushdb()
queue = Queue("work", connection=conn)

jobs = []
for i in range(count):
    if i % 10 == 3:
        jobs.append(("fail", queue.enqueue(rq_tasks.fail, i, result_ttl=600, failure_ttl=600)))
    elif i % 10 == 7:
        jobs.append(("scheduled", queue.enqueue_in(timedelta(seconds=1), rq_tasks.square, i, result_ttl=600)))
    else:
        jobs.append(("ok", queue.enqueue(rq_tasks.square, i, result_ttl=600)))
# Unique jobs: the second enqueue (or schedule) of an id is refused, atomically, by a script.
unique = []
for n, schedule in ((2000, False), (2001, True)):
    def enqueue(value):
        if schedule:
            return queue.enqueue_in(timedelta(seconds=1), rq_tasks.square, value, job_id="unique-%d" % n, unique=True, result_ttl=600)
        return queue.enqueue(rq_tasks.square, value, job_id="unique-%d" % n, unique=True, result_ttl=600)
    unique.append((enqueue(n), n))
    try:
        enqueue(n + 100)
        raise AssertionError("a second unique job %d was accepted" % n)
    except DuplicateJobError:
        pass
parent = queue.enqueue(rq_tasks.square, 1000, result_ttl=600)
child = queue.enqueue(rq_tasks.square, 1001, depends_on=parent, result_ttl=600)

scheduled = ScheduledJobRegistry(queue=queue)
assert len(scheduled) == sum(1 for kind, _ in jobs if kind == "scheduled") + 1, "scheduled registry"
time.sleep(1.5)  # the scheduled jobs are due by the time the worker starts
worker = Worker([queue], connection=conn, name="burst-%d" % os.getpid())
worker.work(burst=True, with_scheduler=True, logging_level="WARNING")

found = {"ok": 0, "fail": 0, "scheduled": 0}
for (kind, job), i in zip(jobs, range(count)):
    job = Job.fetch(job.id, connection=conn)
    status = job.get_status()
    if kind == "fail":
        assert status == JobStatus.FAILED, (i, status)
        assert "ZeroDivisionError" in (job.latest_result().exc_string or ""), i
    else:
        assert status == JobStatus.FINISHED, (i, kind, status)
        assert job.return_value() == i * i, (i, job.return_value())
    found[kind] += 1
for job, n in ((parent, 1000), (child, 1001), *unique):
    job = Job.fetch(job.id, connection=conn)
    assert job.get_status() == JobStatus.FINISHED and job.return_value() == n * n, n
failed, finished = FailedJobRegistry(queue=queue), FinishedJobRegistry(queue=queue)
assert len(failed) == found["fail"], ("failed registry", len(failed))
assert len(finished) == found["ok"] + found["scheduled"] + 4, ("finished registry", len(finished))
assert len(scheduled) == 0 and len(queue) == 0, "nothing left behind"
print(json.dumps({"found": found, "unique": len(unique), "failed_registry": len(failed), "finished_registry": len(finished)}))
