from rest_framework.pagination import CursorPagination


class CreatedCursorPagination(CursorPagination):
    """Stable pages for lists that grow without bound: new rows never shift a page."""

    ordering = "-created_at"
    page_size_query_param = "page_size"
    max_page_size = 200
