import zoneinfo

from django.utils import timezone

from .api.errors import DATABASE_UNAVAILABLE, database_unavailable_response
from .context import clean_request_id, request_id_var

REQUEST_ID_HEADER = "X-Request-ID"


class RequestIdMiddleware:
    """Gives every request an id (the caller's X-Request-ID when it is safe, else a new
    one), binds it for the log lines and tasks the request causes, and returns it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = clean_request_id(request.headers.get(REQUEST_ID_HEADER))
        token = request_id_var.set(request.request_id)
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request.request_id
            return response
        finally:
            request_id_var.reset(token)


class UserTimezoneMiddleware:
    """Shows times in the signed-in user's own time zone."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        tz_name = getattr(request.user, "timezone", "")
        try:
            if tz_name:
                timezone.activate(zoneinfo.ZoneInfo(tz_name))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class DatabaseUnavailableMiddleware:
    """A page or API call that finds the database down (restarting, or no free pooled
    connection) answers 503 with Retry-After, so clients and providers try again, rather
    than a 500 that reads as a bug."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, DATABASE_UNAVAILABLE):
            return database_unavailable_response()
        return None
