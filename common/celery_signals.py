"""Celery hooks: every task runs with the request id of the work that queued it."""

from celery.signals import before_task_publish, task_postrun, task_prerun

from .context import new_request_id, request_id_var

_tokens: dict[str, object] = {}


@before_task_publish.connect
def attach_request_id(headers=None, **kwargs) -> None:
    if headers is not None:
        headers.setdefault("request_id", request_id_var.get() or new_request_id())


@task_prerun.connect
def bind_request_id(task_id=None, task=None, **kwargs) -> None:
    request_id = getattr(task.request, "request_id", None) or new_request_id()
    _tokens[task_id] = request_id_var.set(request_id)


@task_postrun.connect
def unbind_request_id(task_id=None, **kwargs) -> None:
    token = _tokens.pop(task_id, None)
    if token is not None:
        request_id_var.reset(token)
