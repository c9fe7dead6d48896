"""The Stripe webhook endpoint: verify the raw body, store the event, answer at once."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.services.webhooks import stripe_webhook_receive
from billing.stripe_client import (
    EVENT_SCHEMA,
    EventMalformed,
    SignatureInvalid,
    StripeNotConfigured,
)
from core.throttling import WebhookAddressRateThrottle


class StripeWebhookApi(APIView):
    """Stripe's own signature is the authentication; the body is never parsed before it."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes: list = []
    throttle_classes = [WebhookAddressRateThrottle]

    @extend_schema(
        auth=[],
        parameters=[
            OpenApiParameter(
                "Stripe-Signature",
                location=OpenApiParameter.HEADER,
                required=True,
                description="t=<unix time>,v1=<HMAC-SHA256 of '<t>.<body>'>, as Stripe sends it.",
            )
        ],
        request={"application/json": EVENT_SCHEMA},
        responses={
            200: inline_serializer(
                "StripeWebhookReceived",
                {"received": serializers.BooleanField(), "duplicate": serializers.BooleanField()},
            ),
        },
        summary="Receive a Stripe event (signed with the Stripe-Signature header)",
    )
    def post(self, request):
        try:
            stored = stripe_webhook_receive(
                payload=request.body,
                signature_header=request.headers.get("Stripe-Signature"),
                remote_addr=request.META.get("REMOTE_ADDR"),
            )
        except SignatureInvalid as exc:
            return Response(
                {"detail": f"Invalid Stripe signature: {exc}"}, status=status.HTTP_400_BAD_REQUEST
            )
        except EventMalformed as exc:
            return Response(
                {"detail": f"Invalid Stripe event: {exc}"}, status=status.HTTP_400_BAD_REQUEST
            )
        except StripeNotConfigured:
            # 5xx, so Stripe keeps retrying until the endpoint is configured.
            return Response(
                {"detail": "The Stripe webhook is not configured."},
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
            )
        return Response({"received": True, "duplicate": stored.duplicate})
