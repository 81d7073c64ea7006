"""CSV export and import through the API: bulk operations on personal data, so they are
for supervisors and admins only."""

from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.enums import Role
from common.api.errors import ErrorResponseSerializer
from inbox.selectors import customer_list

from .api import customers_filter
from .serializers import CustomerFilterSerializer
from .services import ImportRefused, customers_export_lines, customers_import

BULK_ROLES = {Role.ADMIN, Role.SUPERVISOR}
ERRORS = {
    400: ErrorResponseSerializer,
    401: ErrorResponseSerializer,
    403: ErrorResponseSerializer,
}


def customers_csv_response(customers) -> StreamingHttpResponse:
    """`customers` as a streamed CSV download (the admin's export uses it too)."""
    customers = customers.prefetch_related("identities", "tags").order_by("pk")
    response = StreamingHttpResponse(
        customers_export_lines(customers.iterator(chunk_size=500)),
        content_type="text/csv; charset=utf-8",
    )
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="customers-{stamp}.csv"'
    return response


def _require_bulk_role(request) -> None:
    if request.user.role not in BULK_ROLES:
        raise PermissionDenied(_("Only supervisors and admins may export or import customers."))


class ImportInputSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The CSV file (UTF-8 or GB18030, at most 5 MB).")
    dry_run = serializers.BooleanField(
        default=True, help_text="Preview only (the default): run the import and roll it back."
    )


class ImportRowSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="Line number in the file; the header is line 1.")
    action = serializers.ChoiceField(["create", "update", "unchanged", "error"])
    customer = serializers.UUIDField(allow_null=True)
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class ImportResultSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    failed = serializers.IntegerField()
    rows = ImportRowSerializer(many=True)


class CustomerExportApi(APIView):
    @extend_schema(
        summary="Export customers as CSV (supervisors and admins)",
        description=(
            "Every customer matching the list's filters, one per row, in the columns that "
            "`customers/import/` reads (docs/customers.md). Streamed; UTF-8 with a BOM."
        ),
        parameters=[CustomerFilterSerializer],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The CSV file."),
            **ERRORS,
        },
    )
    def get(self, request):
        _require_bulk_role(request)
        params = CustomerFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        customers = customers_filter(customer_list(user=request.user), **params.validated_data)
        return customers_csv_response(customers)


class CustomerImportApi(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        summary="Import customers from CSV (supervisors and admins)",
        description=(
            "Upserts by identity: a row updates the customer its identities (or `id`) belong "
            "to, or creates one. Rows with errors are skipped and reported; the others are "
            "imported. `dry_run=true` (the default) runs the import and rolls it back, so "
            "the answer is exactly what a real import would do."
        ),
        request={"multipart/form-data": ImportInputSerializer},
        responses={200: ImportResultSerializer, **ERRORS},
    )
    def post(self, request):
        _require_bulk_role(request)
        data = ImportInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            result = customers_import(
                data=data.validated_data["file"].read(),
                actor=request.user,
                dry_run=data.validated_data["dry_run"],
            )
        except ImportRefused as refused:
            raise ValidationError({"file": [str(refused)]}) from None
        return Response(ImportResultSerializer(result.as_dict()).data)
