"""Availability, assignment, transfer, and the agents, teams and inboxes the console can
pick.

Who may assign: supervisors and admins assign any conversation they see to anyone (or
to nobody) and move it between teams. An agent may take a conversation they see
(assign it to themselves) and give back one assigned to them (assign to nobody); to hand
a conversation to someone else they transfer it, with a note, to any colleague or team
of theirs (`GET /agents/` lists whom) or any team."""

from django.db.models import Count, Q
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from common.api.errors import ErrorResponseSerializer, error_body

from .api import ERRORS, conversation_or_404, forbidden, staff_or_403
from .enums import Availability
from .models import AgentProfile, Inbox, Team
from .selectors import SEE_ALL_ROLES, inbox_list
from .serializers import ConversationSerializer
from .services.assignment import (
    KEEP,
    agent_load_subquery,
    assignment_permitted,
    conversation_assign,
    conversation_transfer,
    staff_users,
)
from .services.availability import agent_availability_set, agent_profile_get

FORBIDDEN = {**ERRORS, 403: ErrorResponseSerializer}


def assignable_users(*, user: User):
    """Whom `user` may hand conversations to: anyone for supervisors and admins; for an
    agent, themselves, their teammates and whoever serves an inbox they serve (as a member
    or through a team)."""
    users = staff_users()
    if user.role in SEE_ALL_ROLES:
        return users
    teams = user.teams.values("pk")
    inboxes = Inbox.objects.filter(Q(members=user) | Q(teams__members=user)).values("pk")
    return users.filter(
        Q(pk=user.pk) | Q(teams__in=teams) | Q(inboxes__in=inboxes) | Q(teams__inboxes__in=inboxes)
    ).distinct()


class AvailabilitySerializer(serializers.ModelSerializer):
    class Meta:
        model = AgentProfile
        fields = ["availability", "offline_automatically", "capacity", "skills"]
        read_only_fields = ["offline_automatically", "capacity", "skills"]


class AvailabilityInputSerializer(serializers.Serializer):
    availability = serializers.ChoiceField(choices=Availability.choices)


class MyAvailabilityApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(summary="My availability", responses={200: AvailabilitySerializer, **FORBIDDEN})
    def get(self, request):
        if denied := staff_or_403(request):
            return denied
        return Response(AvailabilitySerializer(agent_profile_get(request.user)).data)

    @extend_schema(
        summary="Set my availability (online drains the queue; offline hands back "
        "conversations nobody has answered yet)",
        request=AvailabilityInputSerializer,
        responses={200: AvailabilitySerializer, **FORBIDDEN},
    )
    def post(self, request):
        if denied := staff_or_403(request):
            return denied
        data = AvailabilityInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        profile = agent_availability_set(
            user=request.user, availability=data.validated_data["availability"]
        )
        return Response(AvailabilitySerializer(profile).data)


@extend_schema_field(OpenApiTypes.INT)
class _UserField(serializers.PrimaryKeyRelatedField):
    default_error_messages = {
        "does_not_exist": gettext_lazy("No staff member with id {pk_value}."),
        "incorrect_type": gettext_lazy("A staff member's id is a number."),
    }

    def get_queryset(self):
        return staff_users()


@extend_schema_field(OpenApiTypes.INT)
class _TeamField(serializers.PrimaryKeyRelatedField):
    default_error_messages = {
        "does_not_exist": gettext_lazy("No team with id {pk_value}."),
        "incorrect_type": gettext_lazy("A team's id is a number."),
    }

    def get_queryset(self):
        return Team.objects.all()


class AssignInputSerializer(serializers.Serializer):
    agent = _UserField(allow_null=True, required=False, help_text="A user id, or null: nobody.")
    team = _TeamField(
        allow_null=True, required=False, help_text="A team id, or null; absent: unchanged."
    )
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True)

    def validate(self, attrs):
        if "agent" not in attrs and "team" not in attrs:
            raise serializers.ValidationError(_("Give an agent, a team or both."))
        return attrs


class TransferInputSerializer(serializers.Serializer):
    agent = _UserField(required=False, allow_null=True)
    team = _TeamField(required=False, allow_null=True)
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True)

    def validate(self, attrs):
        if not attrs.get("agent") and not attrs.get("team"):
            raise serializers.ValidationError(_("Transfer to an agent or a team."))
        return attrs


class ConversationAssignApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Assign a conversation to an agent and/or a team (null agent: unassign)",
        description=__doc__,
        request=AssignInputSerializer,
        responses={200: ConversationSerializer, **FORBIDDEN},
    )
    def post(self, request, uuid):
        if denied := staff_or_403(request):
            return denied
        conversation = conversation_or_404(request, uuid)
        data = AssignInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        agent = values.get("agent", conversation.assignee)
        if not assignment_permitted(
            user=request.user,
            conversation=conversation,
            agent=agent,
            changes_team="team" in values and values["team"] != conversation.team,
        ):
            return forbidden(
                _("Agents may only take a conversation or give theirs back; transfer it instead.")
            )
        conversation_assign(
            conversation=conversation,
            agent=agent,
            team=values.get("team", KEEP),
            actor=request.user,
            note=values.get("note", ""),
        )
        return Response(ConversationSerializer(conversation_or_404(request, uuid)).data)


class ConversationTransferApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Transfer a conversation to an agent or a team, with a note",
        request=TransferInputSerializer,
        responses={200: ConversationSerializer, **FORBIDDEN},
    )
    def post(self, request, uuid):
        if denied := staff_or_403(request):
            return denied
        conversation = conversation_or_404(request, uuid)
        data = TransferInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        agent = values.get("agent")
        if agent is not None and not assignable_users(user=request.user).filter(pk=agent.pk):
            return Response(
                error_body(
                    "invalid",
                    _("You cannot transfer to this agent."),
                    {"agent": [_("Not one of your colleagues.")]},
                ),
                status=status.HTTP_400_BAD_REQUEST,
            )
        conversation_transfer(
            conversation=conversation,
            to_agent=agent,
            to_team=values.get("team"),
            actor=request.user,
            note=values.get("note", ""),
        )
        return Response(ConversationSerializer(conversation_or_404(request, uuid)).data)


class AgentOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="display_name_or_email")
    email = serializers.EmailField()
    availability = serializers.CharField()
    load = serializers.IntegerField(help_text="Open and pending conversations assigned.")
    capacity = serializers.IntegerField()
    skills = serializers.ListField(child=serializers.CharField())
    teams = serializers.ListField(child=serializers.IntegerField())


class AgentListApi(APIView):
    @extend_schema(
        summary="The agents I may assign or transfer to, with availability, load and capacity",
        responses={200: AgentOutputSerializer(many=True), **FORBIDDEN},
    )
    def get(self, request):
        if denied := staff_or_403(request):
            return denied
        users = list(
            assignable_users(user=request.user)
            .select_related("agent_profile")
            .prefetch_related("teams")
            .annotate(load=agent_load_subquery("pk"))
            .order_by("display_name", "email")
        )
        default = AgentProfile()
        rows = []
        for user in users:
            profile = getattr(user, "agent_profile", None) or default
            rows.append(
                {
                    "id": user.pk,
                    "display_name_or_email": str(user),
                    "email": user.email,
                    "availability": profile.availability,
                    "load": user.load,
                    "capacity": profile.capacity,
                    "skills": profile.skills,
                    "teams": [team.pk for team in user.teams.all()],
                }
            )
        return Response(AgentOutputSerializer(rows, many=True).data)


class TeamOutputSerializer(serializers.ModelSerializer):
    members = serializers.IntegerField(source="member_count")
    online = serializers.IntegerField(source="online_count")

    class Meta:
        model = Team
        fields = ["id", "name", "assignment_method", "members", "online"]


class TeamListApi(APIView):
    @extend_schema(
        summary="Teams (to transfer or assign to), with members and members online",
        responses={200: TeamOutputSerializer(many=True), **FORBIDDEN},
    )
    def get(self, request):
        if denied := staff_or_403(request):
            return denied
        teams = Team.objects.annotate(
            member_count=Count("members", distinct=True),
            online_count=Count(
                "members",
                filter=Q(members__agent_profile__availability=Availability.ONLINE),
                distinct=True,
            ),
        ).order_by("name")
        return Response(TeamOutputSerializer(teams, many=True).data)


class InboxOutputSerializer(serializers.ModelSerializer):
    channel = serializers.SerializerMethodField()

    class Meta:
        model = Inbox
        fields = ["id", "name", "channel"]

    @extend_schema_field(
        {"type": "string", "description": "The kind of channel feeding the inbox (web, …)."}
    )
    def get_channel(self, inbox: Inbox) -> str:
        channel = getattr(inbox, "channel", None)
        return channel.kind if channel else ""


class InboxListApi(APIView):
    @extend_schema(
        summary="The inboxes I work in (to filter the conversation list by)",
        description="Every inbox for supervisors and admins; for an agent, the inboxes they "
        "or their teams belong to. Conversations assigned to an agent from other inboxes "
        "are still in their list; this is where the list's inbox filter takes its choices.",
        responses={200: InboxOutputSerializer(many=True), **FORBIDDEN},
    )
    def get(self, request):
        if denied := staff_or_403(request):
            return denied
        return Response(InboxOutputSerializer(inbox_list(user=request.user), many=True).data)


urlpatterns = [
    path("me/availability/", MyAvailabilityApi.as_view(), name="api-my-availability"),
    path(
        "conversations/<uuid:uuid>/assign/",
        ConversationAssignApi.as_view(),
        name="api-conversation-assign",
    ),
    path(
        "conversations/<uuid:uuid>/transfer/",
        ConversationTransferApi.as_view(),
        name="api-conversation-transfer",
    ),
    path("agents/", AgentListApi.as_view(), name="api-agent-list"),
    path("teams/", TeamListApi.as_view(), name="api-team-list"),
    path("inboxes/", InboxListApi.as_view(), name="api-inbox-list"),
]
