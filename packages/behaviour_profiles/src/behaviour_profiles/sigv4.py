"""AWS Signature Version 4 for httpx, so the Prometheus client can query Amazon Managed Prometheus.

``SigV4Auth`` is an ``httpx.Auth``: httpx hands it each fully built request (after the body is
encoded), it signs that exact request with botocore's signer and adds ``Authorization``,
``X-Amz-Date`` and, for temporary credentials, ``X-Amz-Security-Token``. Because httpx runs the auth
flow on every ``send``, a retried request is signed afresh with a new date.

Credentials come from a callable returning botocore's frozen credentials (``access_key``,
``secret_key``, ``token``), typically ``session.get_credentials().get_frozen_credentials``, so that
refreshing credentials (instance roles, IRSA, SSO) are asked for each request; on an async client the
call runs in a worker thread because a refresh does blocking I/O.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Protocol
from urllib.parse import parse_qsl, quote, urlsplit

import anyio.to_thread
import httpx
from botocore.auth import SigV4Auth as _BotocoreSigV4
from botocore.awsrequest import AWSRequest
from botocore.exceptions import BotoCoreError, ClientError

from behaviour_profiles.errors import DependencyFailed, NotConfigured

AWS_CREDENTIALS = "AWS credentials"
_SIGNED_EXTRA = ("content-type",)
"""Headers besides ``host`` and the ``x-amz-*`` ones that are signed when the request has them."""

_AMP_HOST = re.compile(
    r"^(?:[a-z0-9-]+\.)?"  # a VPC endpoint's own DNS name starts with vpce-...
    r"aps-workspaces(?:-fips)?\."
    r"(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)\."
    r"(?:vpce\.)?(?:amazonaws\.com(?:\.cn)?|api\.aws)$"
)


class FrozenCredentials(Protocol):
    """What the signer reads: botocore's ``ReadOnlyCredentials`` has these attributes."""

    @property
    def access_key(self) -> str: ...

    @property
    def secret_key(self) -> str: ...

    @property
    def token(self) -> str | None: ...


CredentialsProvider = Callable[[], FrozenCredentials | None]


def amp_region(url: str) -> str | None:
    """The region of an Amazon Managed Prometheus workspace URL, ``None`` when the host is not AMP."""
    host = (urlsplit(url if "//" in url else f"//{url}").hostname or "").lower()
    match = _AMP_HOST.match(host)
    return match.group("region") if match else None


def is_amp(url: str | None) -> bool:
    """Whether ``url`` points at an Amazon Managed Prometheus workspace (its requests must be signed)."""
    return bool(url) and amp_region(url or "") is not None


def canonical_query(query: str) -> str:
    """``query`` re-encoded the way SigV4 canonicalises it: RFC 3986 percent-encoding (only
    ``A-Z a-z 0-9 - _ . ~`` left bare, spaces as ``%20``), pairs kept in their order."""
    pairs = parse_qsl(query, keep_blank_values=True)
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in pairs)


class SigV4Auth(httpx.Auth):
    """Signs every request with AWS Signature V4 for ``service`` in ``region``."""

    requires_request_body = True

    def __init__(self, credentials_provider: CredentialsProvider, region: str, service: str = "aps") -> None:
        self._credentials = credentials_provider
        self.region = region
        self.service = service

    def _fetch_credentials(self) -> FrozenCredentials:
        try:
            credentials = self._credentials()
        except (BotoCoreError, ClientError) as exc:
            raise DependencyFailed(AWS_CREDENTIALS, f"could not obtain credentials to sign requests: {exc}") from exc
        if credentials is None:
            raise NotConfigured(
                "No AWS credentials found to sign Amazon Managed Prometheus requests: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, a profile, or run with an IAM role"
            )
        return credentials

    def sign(self, request: httpx.Request, credentials: FrozenCredentials) -> None:
        """Add the SigV4 headers to ``request`` (whose body must already be read)."""
        # Send the query in SigV4's canonical encoding, so what is signed is byte for byte what is sent.
        query = canonical_query(request.url.query.decode("ascii"))
        request.url = request.url.copy_with(query=query.encode("ascii") if query else None)
        headers = {"host": request.headers["host"]}
        for name in _SIGNED_EXTRA:
            if name in request.headers:
                headers[name] = request.headers[name]
        aws = AWSRequest(method=request.method, url=str(request.url), headers=headers, data=request.content)
        _BotocoreSigV4(credentials, self.service, self.region).add_auth(aws)
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            if name in aws.headers:
                request.headers[name] = aws.headers[name]
            elif name in request.headers:
                del request.headers[name]

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.sign(request, self._fetch_credentials())
        yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        await request.aread()
        credentials = await anyio.to_thread.run_sync(self._fetch_credentials)
        self.sign(request, credentials)
        yield request
