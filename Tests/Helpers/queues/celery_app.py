"""A Celery app on a Redis broker and result backend named by REDIS_URL (the test's daemon)."""
import os
from celery import Celery

app = Celery("shmkv_celery", broker=os.environ["REDIS_URL"], backend=os.environ["REDIS_URL"])
app.conf.update(worker_prefetch_multiplier=1, broker_connection_retry_on_startup=True,
                result_expires=600, task_default_queue="shmkv",
                # Kombu's ack emulation restores unacknowledged messages under redis-py's Lock, whose
                # release is a Lua script: scripts are the next issue (EVAL), so the broker acknowledges
                # on delivery here.
                broker_transport_options={"ack_emulation": False},
                # Remote control's reply queues expire, and Kombu refreshes their bindings with a Lua
                # script too.
                worker_enable_remote_control=False)


@app.task
def add(x, y):
    return x + y


@app.task
def fail(x):
    raise ValueError("task %d failed on purpose" % x)
