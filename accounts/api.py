from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api.errors import ErrorResponseSerializer


class MeApi(APIView):
    class OutputSerializer(serializers.Serializer):
        email = serializers.EmailField()
        display_name = serializers.CharField()
        role = serializers.CharField(allow_null=True)
        language = serializers.CharField()
        timezone = serializers.CharField()

    @extend_schema(
        summary="The authenticated user",
        responses={200: OutputSerializer, 401: ErrorResponseSerializer},
    )
    def get(self, request):
        user = request.user
        data = {
            "email": user.email,
            "display_name": user.display_name,
            "role": user.role.value if user.role else None,
            "language": user.language,
            "timezone": user.timezone,
        }
        return Response(self.OutputSerializer(data).data)
