"""A Celery app on a Redis broker and result backend named by REDIS_URL (the test's daemon)."""
import os
from celery import Celery

app = Celery("shmkv_celery", broker=os.environ["REDIS_URL"], backend=os.environ["REDIS_URL"])
# Kombu's defaults: ack emulation (unacknowledged messages restored under redis-py's Lock, a Lua script)
# and remote control (reply queues whose bindings are refreshed with a Lua script).
app.conf.update(worker_prefetch_multiplier=1, broker_connection_retry_on_startup=True,
                result_expires=600, task_default_queue="shmkv")


@app.task
def add(x, y):
    return x + y


@app.task
def fail(x):
    raise ValueError("task %d failed on purpose" % x)
