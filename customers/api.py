"""The REST API for customers: search, profile, identities, tags, notes, merges.

Who may see a customer is decided by `inbox.selectors.customer_list` alone (the views are
the top layer, so they may ask `inbox`); a customer the user may not see is a 404."""

from django.db.models import F, Prefetch, Q, QuerySet
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ApiToken
from common.api.errors import ErrorResponseSerializer, error_body
from common.api.pagination import CreatedCursorPagination
from inbox.api import HasRole
from inbox.selectors import SEE_ALL_ROLES, conversation_list, customer_get, customer_list

from .enums import CaptureVia
from .models import (
    AttributeDefinition,
    Customer,
    CustomerChange,
    Identity,
    MergeRecord,
    MergeSuggestion,
    Tag,
)
from .normalization import InvalidIdentity, identity_normalize
from .selectors import customer_search, identity_find
from .serializers import (
    AttributeDefinitionSerializer,
    CustomerChangeSerializer,
    CustomerConversationSerializer,
    CustomerFilterSerializer,
    CustomerNoteSerializer,
    CustomerProfileSerializer,
    CustomerSerializer,
    CustomerUpdateSerializer,
    IdentityInputSerializer,
    MergeInputSerializer,
    MergeRecordSerializer,
    NoteInputSerializer,
    TagInputSerializer,
    TagSerializer,
    suggestions_seen_from,
)
from .services import (
    IdentityClaim,
    MergeRefused,
    customer_identities_add,
    customer_identity_remove,
    customer_merge,
    customer_merge_undo,
    customer_note_add,
    customer_note_delete,
    customer_root,
    customer_tag_add,
    customer_tag_remove,
    customer_update,
    merge_suggestion_confirm,
    merge_suggestion_dismiss,
    merge_suggestions_for,
)

ERRORS = {
    400: ErrorResponseSerializer,
    401: ErrorResponseSerializer,
    403: ErrorResponseSerializer,
    404: ErrorResponseSerializer,
}
CONFLICT = {
    409: OpenApiResponse(
        ErrorResponseSerializer, description="`merge_refused`: the message says why."
    )
}
MAX_CONVERSATIONS = 100


# --- Helpers ------------------------------------------------------------------------------


def conflict(code: str, message: str, details: dict | None = None) -> Response:
    """A 409 in the one error format."""
    return Response(error_body(code, message, details), status=status.HTTP_409_CONFLICT)


def customers_with_relations(customers: QuerySet[Customer]) -> QuerySet[Customer]:
    """What the customer JSON shows, in two queries for any number of customers."""
    # Of the channel only what the JSON shows: loading a whole channel decrypts its secrets,
    # once per identity (a page of 50 customers spent more on that than on its queries).
    fields = [field.name for field in Identity._meta.concrete_fields]
    identities = (
        Identity.objects.select_related("channel")
        .only(*fields, "channel__kind", "channel__name")
        .order_by("created_at", "pk")
    )
    return customers.prefetch_related(Prefetch("identities", queryset=identities), "tags")


def customer_or_404(request, uuid) -> Customer:
    customer = customer_get(user=request.user, uuid=uuid)
    if customer is None:
        raise Http404
    return customer


def may_see(user, customer: Customer) -> bool:
    """Whether the user may see the customer `customer` lives on as now."""
    return customer_list(user=user).filter(pk=customer_root(customer).pk).exists()


def profile_data(customer: Customer) -> dict:
    """The customer JSON with pending merge suggestions and the merges into them."""
    customer = customers_with_relations(Customer.objects.filter(pk=customer.pk)).get()
    suggestions = suggestions_seen_from(customer, merge_suggestions_for(customer))
    merges = customer.merges.select_related("survivor", "merged", "actor").order_by(
        "-created_at", "-pk"
    )
    context = {"suggestions": suggestions, "merges": merges}
    return CustomerProfileSerializer(customer, context=context).data


def capture_via(request) -> CaptureVia:
    """API for integrations (token), AGENT for the console (session)."""
    return CaptureVia.API if isinstance(request.auth, ApiToken) else CaptureVia.AGENT


def customers_filter(
    customers: QuerySet[Customer],
    *,
    q: str = "",
    tag: str = "",
    lead_status: str = "",
    channel: str = "",
    source: str = "",
    last_seen_after=None,
    last_seen_before=None,
    identity: str = "",
) -> QuerySet[Customer]:
    """The customer list's filters (validated by CustomerFilterSerializer)."""
    if q.strip():
        customers = customer_search(customers, q)
    if tag.strip():
        # Tag names are unique regardless of case, so this join never doubles a customer.
        customers = customers.filter(tags__name__iexact=" ".join(tag.split()))
    if lead_status:
        customers = customers.filter(lead_status=lead_status)
    if channel := channel.strip():
        identities = Identity.objects.filter(Q(kind=channel) | Q(channel__kind=channel))
        customers = customers.filter(pk__in=identities.values("customer_id"))
    if source := source.strip():
        customers = customers.filter(
            Q(first_touch__utm_source__iexact=source)
            | Q(last_touch__utm_source__iexact=source)
            | Q(first_touch__channel__iexact=source)
            | Q(last_touch__channel__iexact=source)
        )
    if last_seen_after is not None:
        customers = customers.filter(last_seen_at__gte=last_seen_after)
    if last_seen_before is not None:
        customers = customers.filter(last_seen_at__lt=last_seen_before)
    if identity.strip():
        kind, _colon, raw = identity.strip().partition(":")
        try:
            value = identity_normalize(kind.strip(), raw)
        except InvalidIdentity as error:
            raise ValidationError({"identity": [str(error)]}) from None
        matches = Identity.objects.filter(kind=kind.strip(), value=value)
        customers = customers.filter(pk__in=matches.values("customer_id"))
    return customers


# --- Customers ----------------------------------------------------------------------------


class CustomerPagination(CreatedCursorPagination):
    # Customers never seen (e.g. imported) sort by when they were created.
    ordering = ("-recency", "-id")


@extend_schema(
    summary="Customers the user may see, most recently seen first (cursor-paginated)",
    description=(
        "Agents see the customers of the conversations they may see; supervisors and admins "
        "see everyone. Customers merged into another are never listed. Filters combine."
    ),
    parameters=[CustomerFilterSerializer],
    responses={200: CustomerSerializer(many=True), **ERRORS},
)
class CustomerListApi(ListAPIView):
    serializer_class = CustomerSerializer
    pagination_class = CustomerPagination

    def get_queryset(self):
        params = CustomerFilterSerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        customers = customers_filter(customer_list(user=self.request.user), **params.validated_data)
        return customers_with_relations(customers).annotate(
            recency=Coalesce("last_seen_at", "created_at")
        )


class CustomerDetailApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="One customer, with pending merge suggestions and merges",
        responses={200: CustomerProfileSerializer, **ERRORS},
    )
    def get(self, request, uuid):
        return Response(profile_data(customer_or_404(request, uuid)))

    @extend_schema(
        summary="Change a customer's profile (partial)",
        description=(
            "Send only the fields to change. `attributes` changes the named custom "
            "attributes (null removes one) and leaves the others. Every change is written "
            "to the customer's history."
        ),
        request=CustomerUpdateSerializer,
        responses={200: CustomerProfileSerializer, **ERRORS},
    )
    def patch(self, request, uuid):
        customer = customer_or_404(request, uuid)
        if not isinstance(request.data, dict):
            raise ValidationError({"non_field_errors": [_("Send a JSON object.")]})
        # The service validates each field and says which it refuses and why.
        customer = customer_update(customer=customer, actor=request.user, data=dict(request.data))
        return Response(profile_data(customer))


# --- Identities ---------------------------------------------------------------------------


class CustomerIdentitiesApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Add a phone number, email or other identity to the customer",
        description=(
            "201 with the customer. An identity that already belongs to another customer is "
            "not moved: the answer is a 409 `identity_taken` (with that customer's id in "
            "`details.customer` when you may see them) and a merge suggestion is recorded. "
            "A contact detail (phone, email, messaging id) makes the customer a lead."
        ),
        request=IdentityInputSerializer,
        responses={
            201: CustomerProfileSerializer,
            **ERRORS,
            409: OpenApiResponse(
                ErrorResponseSerializer,
                description="`identity_taken`: it belongs to another customer.",
            ),
        },
    )
    def post(self, request, uuid):
        customer = customer_or_404(request, uuid)
        data = IdentityInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        kind = data.validated_data["kind"]
        try:
            # A phone number without a country code is most likely in the customer's country.
            value = identity_normalize(
                kind, data.validated_data["value"], region=customer.country or None
            )
        except InvalidIdentity as error:
            raise ValidationError({"value": [str(error)]}) from None
        resolution = customer_identities_add(
            customer=customer,
            identities=[IdentityClaim(kind=kind, value=value)],
            actor=request.user,
            captured_via=capture_via(request),
        )
        if not resolution.identities:
            owner = identity_find(kind, value)
            if owner is not None and customer_root(owner.customer).pk != resolution.customer.pk:
                owner = customer_root(owner.customer)
                details = {"customer": str(owner.uuid)} if may_see(request.user, owner) else {}
                return conflict(
                    "identity_taken",
                    _("This identity belongs to another customer, so it was not added."),
                    details,
                )
        return Response(profile_data(resolution.customer), status=status.HTTP_201_CREATED)


class CustomerIdentityApi(APIView):
    @extend_schema(
        summary="Remove an identity from the customer",
        description="400 while conversations run on it (their replies go there).",
        responses={204: None, **ERRORS},
    )
    def delete(self, request, uuid, identity_id):
        customer = customer_or_404(request, uuid)
        identity = customer.identities.filter(pk=identity_id).first()
        if identity is None:
            raise Http404
        customer_identity_remove(identity=identity, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Tags ---------------------------------------------------------------------------------


@extend_schema(
    summary="Every tag, by name (for autocomplete)",
    responses={200: TagSerializer(many=True), **ERRORS},
)
class TagListApi(ListAPIView):
    permission_classes = [HasRole]
    serializer_class = TagSerializer
    pagination_class = None
    queryset = Tag.objects.order_by("name")


class CustomerTagsApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Tag the customer (the tag is created if no tag has this name)",
        description="Names are matched regardless of case.",
        request=TagInputSerializer,
        responses={201: TagSerializer, **ERRORS},
    )
    def post(self, request, uuid):
        customer = customer_or_404(request, uuid)
        data = TagInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tag = customer_tag_add(
            customer=customer, name=data.validated_data["name"], actor=request.user
        )
        return Response(TagSerializer(tag).data, status=status.HTTP_201_CREATED)


class CustomerTagApi(APIView):
    @extend_schema(
        summary="Remove a tag from the customer",
        description="404 when the customer does not carry the tag.",
        responses={204: None, **ERRORS},
    )
    def delete(self, request, uuid, tag_id):
        customer = customer_or_404(request, uuid)
        tag = customer.tags.filter(pk=tag_id).first()
        if tag is None:
            raise Http404
        customer_tag_remove(customer=customer, tag=tag, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Notes --------------------------------------------------------------------------------


class CustomerNotesApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="The customer's notes, newest first",
        responses={200: CustomerNoteSerializer(many=True), **ERRORS},
    )
    def get(self, request, uuid):
        customer = customer_or_404(request, uuid)
        notes = customer.notes.select_related("author").order_by("-created_at", "-pk")
        return Response(CustomerNoteSerializer(notes, many=True).data)

    @extend_schema(
        summary="Write a note on the customer (seen by staff only)",
        request=NoteInputSerializer,
        responses={201: CustomerNoteSerializer, **ERRORS},
    )
    def post(self, request, uuid):
        customer = customer_or_404(request, uuid)
        data = NoteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        note = customer_note_add(
            customer=customer, author=request.user, body=data.validated_data["body"]
        )
        return Response(CustomerNoteSerializer(note).data, status=status.HTTP_201_CREATED)


class CustomerNoteApi(APIView):
    @extend_schema(
        summary="Delete a note",
        description="Its author may, and supervisors and admins; anyone else gets a 403.",
        responses={204: None, **ERRORS},
    )
    def delete(self, request, uuid, note_id):
        customer = customer_or_404(request, uuid)
        note = customer.notes.filter(pk=note_id).first()
        if note is None:
            raise Http404
        if note.author_id != request.user.pk and request.user.role not in SEE_ALL_ROLES:
            raise PermissionDenied(_("Only the note's author or a supervisor may delete it."))
        customer_note_delete(note=note, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- History and conversations ------------------------------------------------------------


class HistoryPagination(CreatedCursorPagination):
    ordering = ("-created_at", "-id")


@extend_schema(
    summary="The customer's history: who changed what, newest first (cursor-paginated)",
    responses={200: CustomerChangeSerializer(many=True), **ERRORS},
)
class CustomerHistoryApi(ListAPIView):
    serializer_class = CustomerChangeSerializer
    pagination_class = HistoryPagination

    def get_queryset(self):
        customer = customer_or_404(self.request, self.kwargs["uuid"])
        return CustomerChange.objects.filter(customer=customer).select_related("actor")


class CustomerConversationsApi(APIView):
    @extend_schema(
        summary="The customer's conversations the user may see, newest activity first",
        description=f"At most {MAX_CONVERSATIONS}.",
        responses={200: CustomerConversationSerializer(many=True), **ERRORS},
    )
    def get(self, request, uuid):
        customer = customer_or_404(request, uuid)
        conversations = (
            conversation_list(user=request.user)
            .filter(customer=customer)
            .select_related("inbox__channel")
            .order_by(F("last_message_at").desc(nulls_last=True), "-created_at", "-pk")
        )[:MAX_CONVERSATIONS]
        return Response(CustomerConversationSerializer(conversations, many=True).data)


# --- Merges -------------------------------------------------------------------------------


class CustomerMergeApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Merge another customer into this one",
        description=(
            "Everything of `other` (identities, conversations, notes, history, tags) moves "
            "to this customer; where both have a value, the one seen more recently wins. "
            "Can be undone. 404 unless you may see both customers."
        ),
        request=MergeInputSerializer,
        responses={201: MergeRecordSerializer, **ERRORS, **CONFLICT},
    )
    def post(self, request, uuid):
        customer = customer_or_404(request, uuid)
        data = MergeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        other = customer_or_404(request, data.validated_data["other"])
        try:
            record = customer_merge(
                survivor=customer, merged=other, actor=request.user, evidence={"reason": "agent"}
            )
        except MergeRefused as refused:
            return conflict("merge_refused", str(refused))
        return Response(MergeRecordSerializer(record).data, status=status.HTTP_201_CREATED)


class CustomerMergeUndoApi(APIView):
    @extend_schema(
        summary="Undo a merge: split the merged customer off again",
        description=(
            "Moves back what the merge moved and restores the kept customer's fields the "
            "merge changed (unless changed since). The two are then never suggested or "
            "merged automatically again. 404 unless you may see the kept customer."
        ),
        request=None,
        responses={200: MergeRecordSerializer, **ERRORS, **CONFLICT},
    )
    def post(self, request, pk):
        record = MergeRecord.objects.select_related("survivor").filter(pk=pk).first()
        if record is None or not may_see(request.user, record.survivor):
            raise Http404
        try:
            record = customer_merge_undo(record=record, actor=request.user)
        except MergeRefused as refused:
            return conflict("merge_refused", str(refused))
        return Response(MergeRecordSerializer(record).data)


def suggestion_or_404(request, pk) -> MergeSuggestion:
    """The suggestion, if the user may see at least one of its customers."""
    suggestion = MergeSuggestion.objects.select_related("customer", "other").filter(pk=pk).first()
    if suggestion is None:
        raise Http404
    if not (may_see(request.user, suggestion.customer) or may_see(request.user, suggestion.other)):
        raise Http404
    return suggestion


class MergeSuggestionConfirmApi(APIView):
    @extend_schema(
        summary="Confirm a merge suggestion: merge the two customers (the older is kept)",
        request=None,
        responses={201: MergeRecordSerializer, **ERRORS, **CONFLICT},
    )
    def post(self, request, pk):
        suggestion = suggestion_or_404(request, pk)
        try:
            record = merge_suggestion_confirm(suggestion=suggestion, actor=request.user)
        except MergeRefused as refused:
            return conflict("merge_refused", str(refused))
        return Response(MergeRecordSerializer(record).data, status=status.HTTP_201_CREATED)


class MergeSuggestionDismissApi(APIView):
    @extend_schema(
        summary="Dismiss a merge suggestion: the two are kept apart from now on",
        request=None,
        responses={204: None, **ERRORS, **CONFLICT},
    )
    def post(self, request, pk):
        suggestion = suggestion_or_404(request, pk)
        try:
            merge_suggestion_dismiss(suggestion=suggestion, actor=request.user)
        except MergeRefused as refused:
            return conflict("merge_refused", str(refused))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Custom attributes --------------------------------------------------------------------


@extend_schema(
    summary="The custom attributes customers may have, in display order",
    responses={200: AttributeDefinitionSerializer(many=True), **ERRORS},
)
class AttributeDefinitionListApi(ListAPIView):
    permission_classes = [HasRole]
    serializer_class = AttributeDefinitionSerializer
    pagination_class = None
    queryset = AttributeDefinition.objects.all()
