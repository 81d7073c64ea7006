"""The one error format of the API:

    {"error": {"code": "not_found", "message": "Not found.", "details": {...}},
     "request_id": "..."}

`details` holds per-field messages for validation errors and is empty otherwise."""

import logging

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from common.context import request_id_var

logger = logging.getLogger(__name__)


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. `not_found`.")
    message = serializers.CharField(help_text="Human-readable message in the request's language.")
    details = serializers.DictField(help_text="Per-field messages for validation errors.")


class ErrorResponseSerializer(serializers.Serializer):
    error = ErrorBodySerializer()
    request_id = serializers.CharField()


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    return {
        "error": {"code": code, "message": str(message), "details": details or {}},
        "request_id": request_id_var.get(),
    }


def api_exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        # Services validate with Django's ValidationError; the API answers it as a 400.
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    if isinstance(exc, DATABASE_UNAVAILABLE):
        return database_unavailable_response()
    response = exception_handler(exc, context)
    if response is None:
        logger.exception("Unhandled error in API view", exc_info=exc)
        return Response(
            error_body("server_error", _("Something went wrong on our side.")),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        body = error_body("invalid", _("The request is not valid."), detail)
    else:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        code = codes if isinstance(codes, str) else "error"
        body = error_body(code, exc.detail if hasattr(exc, "detail") else str(exc))
    response.data = body
    return response


# The database is down, restarting or has no free connection: a moment's wait, not a bug.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 5


def database_unavailable_response() -> JsonResponse:
    logger.warning("Database unavailable", exc_info=True)
    response = JsonResponse(
        error_body("unavailable", _("Temporarily unavailable, please try again shortly.")),
        status=503,
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def json_not_found(request, exception=None):
    return JsonResponse(error_body("not_found", _("Not found.")), status=404)


def json_server_error(request):
    return JsonResponse(
        error_body("server_error", _("Something went wrong on our side.")), status=500
    )
