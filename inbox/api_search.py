"""Search, and saved views: GET /api/v1/search/, /api/v1/saved-views/ (docs/search.md)."""

from django.db.models import Q
from django.http import Http404
from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api.errors import ErrorResponseSerializer
from common.api.pagination import CreatedCursorPagination

from .models import SavedView
from .search import (
    Window,
    conversation_search,
    filters_from_params,
    message_hits,
    saved_view_create,
    saved_view_delete,
    saved_view_update,
    search_snippets,
)
from .selectors import for_list_page
from .serializers import ConversationSerializer, moment

ERRORS = {400: ErrorResponseSerializer, 401: ErrorResponseSerializer, 404: ErrorResponseSerializer}

FILTER_PARAMETERS = [
    OpenApiParameter(
        "status", str, description="open, pending, snoozed, resolved; comma-separated for any."
    ),
    OpenApiParameter("channel", str, description="Channel kinds (web, whatsapp, …)."),
    OpenApiParameter("inbox", str, description="Inbox ids, comma-separated."),
    OpenApiParameter("team", str, description="Team ids, comma-separated."),
    OpenApiParameter("assignee", str, description="`me`, `none` or a user id."),
    OpenApiParameter("tag", str, description="Tag names (any of them), comma-separated."),
    OpenApiParameter("priority", str, description="low, normal, high, urgent (or 0–3)."),
    OpenApiParameter("created_from", str, description="Created at or after (date or ISO time)."),
    OpenApiParameter("created_to", str, description="Created before (a date: to its end)."),
    OpenApiParameter("last_message_from", str, description="Last message at or after."),
    OpenApiParameter("last_message_to", str, description="Last message before (a date: its end)."),
    OpenApiParameter("unread", bool, description="true: with unread customer messages."),
]


class ConversationPagination(CreatedCursorPagination):
    """Conversations by latest activity: the list's pages and the search's."""

    ordering = ("-last_message_at", "-id")

    def window(self, request) -> Window | None:
        """The rows `paginate_queryset` will read for this request (its cursor decoded the
        same way, a 404 on a bad one), for the search to limit each of its sources to; None
        when it does not paginate (every row then)."""
        page_size = self.get_page_size(request)
        if not page_size:
            return None
        cursor = self.decode_cursor(request)
        offset, reverse, position = cursor if cursor else (0, False, None)
        order_by = self.ordering
        if reverse:
            order_by = tuple(f[1:] if f.startswith("-") else f"-{f}" for f in order_by)
        start = None
        if position is not None:
            field = self.ordering[0].lstrip("-")
            before = reverse != self.ordering[0].startswith("-")
            start = Q(**{f"{field}__{'lt' if before else 'gt'}": position})
        rows = offset + page_size + 1
        return Window(order_by=tuple(order_by), start=start, rows=rows)


class SearchMatchSerializer(serializers.Serializer):
    seq = serializers.IntegerField(help_text="The matching message's seq.")
    text = serializers.CharField(help_text="Plain text around the match; escape it to show it.")
    private = serializers.BooleanField(help_text="The match is a private note.")
    sent_at = serializers.DateTimeField()


class SearchResultSerializer(ConversationSerializer):
    match = serializers.SerializerMethodField()

    class Meta(ConversationSerializer.Meta):
        fields = [*ConversationSerializer.Meta.fields, "match"]

    def to_representation(self, conversation) -> dict:
        return {**super().to_representation(conversation), "match": self.get_match(conversation)}

    @extend_schema_field(SearchMatchSerializer(allow_null=True))
    def get_match(self, conversation) -> dict | None:
        snippet = self.context.get("snippets", {}).get(conversation.pk)
        if not snippet:
            return None
        # SearchMatchSerializer's shape, built directly: a serializer per row copies its
        # fields each time (a fifth of a page's time).
        return {**snippet, "sent_at": moment(snippet["sent_at"])}


@extend_schema(
    summary="Search conversations: messages (notes included), customers' names and identities",
    description=(
        "Full text, case-insensitive, Chinese included (one character or more). Each result "
        "is a conversation the user may see, most recent activity first, with `match`: the "
        "newest matching message as a plain-text snippet (null when only the customer "
        "matched). The filters are those of `GET /api/v1/conversations/`."
    ),
    parameters=[
        OpenApiParameter("q", str, required=True, description="What to look for."),
        *FILTER_PARAMETERS,
    ],
    responses={200: SearchResultSerializer(many=True), **ERRORS},
)
class SearchApi(ListAPIView):
    serializer_class = SearchResultSerializer
    pagination_class = ConversationPagination

    def get_queryset(self):
        filters = filters_from_params(self.request.query_params)
        self.q = filters.pop("q", "").strip()
        if not self.q:
            raise ValidationError({"q": [_("Say what to look for.")]})
        # Only the page's rows of each source are read (a common name: the newest matches).
        window = self.paginator.window(self.request)
        self.hits = message_hits(self.q)  # read once, for the search and its snippets
        found = conversation_search(
            user=self.request.user, q=self.q, filters=filters, window=window, hits=self.hits
        )
        return for_list_page(found)

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        context = {
            **self.get_serializer_context(),
            "snippets": search_snippets(page, self.q, self.hits),
        }
        data = SearchResultSerializer(page, many=True, context=context).data
        return self.get_paginated_response(data)


class SavedViewSerializer(serializers.ModelSerializer):
    filters = serializers.JSONField(
        required=False,
        help_text="Filter names to values, as the query parameters of the search: e.g. "
        '{"q": "退款", "status": "open,pending", "assignee": "me"}.',
    )

    class Meta:
        model = SavedView
        fields = ["id", "name", "filters", "position", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


class SavedViewListCreateApi(APIView):
    @extend_schema(summary="My saved views", responses={200: SavedViewSerializer(many=True)})
    def get(self, request):
        views = SavedView.objects.filter(user=request.user)
        return Response(SavedViewSerializer(views, many=True).data)

    @extend_schema(
        summary="Save a view (400 on an unknown filter name or a bad value)",
        request=SavedViewSerializer,
        responses={201: SavedViewSerializer, **ERRORS},
    )
    def post(self, request):
        data = SavedViewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        saved_view = saved_view_create(
            user=request.user,
            name=data.validated_data["name"],
            filters=data.validated_data.get("filters", {}),
            position=data.validated_data.get("position", 0),
        )
        return Response(SavedViewSerializer(saved_view).data, status=status.HTTP_201_CREATED)


class SavedViewDetailApi(APIView):
    def _own(self, request, pk: int) -> SavedView:
        saved_view = SavedView.objects.filter(user=request.user, pk=pk).first()
        if saved_view is None:  # another user's view is as absent as a missing one
            raise Http404
        return saved_view

    @extend_schema(
        summary="Change a saved view of mine",
        request=SavedViewSerializer,
        responses={200: SavedViewSerializer, **ERRORS},
    )
    def patch(self, request, pk: int):
        saved_view = self._own(request, pk)
        data = SavedViewSerializer(saved_view, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        saved_view = saved_view_update(saved_view=saved_view, **data.validated_data)
        return Response(SavedViewSerializer(saved_view).data)

    @extend_schema(summary="Delete a saved view of mine", responses={204: None, **ERRORS})
    def delete(self, request, pk: int):
        saved_view_delete(saved_view=self._own(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns = [
    path("search/", SearchApi.as_view(), name="api-search"),
    path("saved-views/", SavedViewListCreateApi.as_view(), name="api-saved-view-list"),
    path("saved-views/<int:pk>/", SavedViewDetailApi.as_view(), name="api-saved-view-detail"),
]
