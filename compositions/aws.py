"""The one module that talks to AWS, and the one place botocore's errors become ours.

Building a boto3 session and client costs tens of milliseconds and, with a role to
assume, an STS call; a sync that is otherwise one GetFunction cannot afford either. So
clients are kept per process in a bounded cache, keyed by whatever the caller says changes
them (see `Connector`), and assumed-role credentials refresh themselves before they
expire. Every call has connect and read timeouts and few retries, so a hook answers
well inside Metacontroller's webhook timeout.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.session
from botocore import UNSIGNED
from botocore.config import Config
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError as BotoConnectionError,
    NoCredentialsError,
    ParamValidationError,
)

from compositions.errors import Permanent, ReconcileError, Retryable

log = logging.getLogger(__name__)

# Seconds to connect and to read a reply, and tries per call: a call takes 22 s at most.
CONNECT_SECONDS = 3.0
READ_SECONDS = 8.0
ATTEMPTS = 2


def client_config(connect: float = CONNECT_SECONDS, read: float = READ_SECONDS) -> Config:
    return Config(
        connect_timeout=connect,
        read_timeout=read,
        retries={"mode": "standard", "total_max_attempts": ATTEMPTS},
        user_agent_extra="aws-infra-operator",
    )


ASSUMED_ROLE_SECONDS = 3600

# Codes that clear by themselves. Anything else waits for a person to change something.
RETRYABLE_CODES = frozenset({
    "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded",
    "ResourceConflictException", "PreconditionFailedException", "ServiceException",
    "ServiceUnavailable", "ServiceUnavailableException", "InternalFailure", "InternalError",
    "EC2ThrottledException", "ResourceNotReadyException", "RequestTimeout",
    "RequestTimeoutException", "IDPCommunicationError",
})  # fmt: skip


@dataclass(frozen=True)
class Target:
    """Where and as whom to call AWS."""

    region: str
    endpoint: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    role_arn: str | None = None
    external_id: str | None = field(default=None, repr=False)
    session_name: str = "aws-infra-operator"


@contextmanager
def translated(operation: str, subject: str) -> Iterator[None]:
    """Raise botocore's failures of `operation` on `subject` as Retryable or Permanent."""
    try:
        yield
    except ClientError as error:
        raise translate(error, operation, subject) from None
    except NoCredentialsError:
        raise Permanent(
            "NoCredentials",
            "no AWS credentials: give the AWSProvider keys or a role, or run the hooks"
            " with a service account that has one",
        ) from None
    except ParamValidationError as error:
        # The spec checks should have caught this. Name the parameters, never their values.
        names = sorted(set(re.findall(r"parameter (\S+?),", str(error))))
        raise Permanent(
            "InvalidParameter", f"{operation} refused parameters: {', '.join(names) or '?'}"
        ) from None
    except ValueError as error:
        # An endpoint the spec check let through but botocore cannot use (a bad port, say).
        raise Permanent(
            "InvalidEndpoint", f"{operation}: the provider's endpoint is not usable: {error}"[:300]
        ) from None
    except (BotoConnectionError, BotoCoreError) as error:
        raise Retryable(
            "AWSUnreachable",
            f"{operation} on {subject} did not complete: {type(error).__name__}",
        ) from None


def translate(error: ClientError, operation: str, subject: str) -> ReconcileError:
    details = error.response.get("Error", {})
    code = details.get("Code") or "Unknown"
    # Lambda quotes every environment variable back after "String measured:" when they
    # are too large; that part says nothing the spec does not.
    said = str(details.get("Message", "")).split(" String measured:")[0]
    message = f"{operation} on {subject}: {code}: {said}".rstrip(": ")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    # Lambda cannot assume a role for the first seconds after IAM created it.
    role_not_ready = "cannot be assumed by Lambda" in message
    if code in RETRYABLE_CODES or status >= 500 or status == 429 or role_not_ready:
        return Retryable(code, message, quotes_aws=True)
    return Permanent(code, message, quotes_aws=True)


class LambdaFunctions:
    """Lambda's API for one Target: the calls the reconciler plans, nothing more."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def get(self, name: str) -> dict[str, Any] | None:
        """GetFunction's reply (configuration, tags, concurrency), or None when absent."""
        try:
            with translated("GetFunction", name):
                return self._client.get_function(FunctionName=name)
        except Permanent as error:
            if error.reason == "ResourceNotFoundException":
                return None
            raise

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        subject = params.get("FunctionName") or params.get("Resource", "")
        with translated(operation, subject):
            reply = getattr(self._client, botocore.xform_name(operation))(**params)
        reply.pop("ResponseMetadata", None)
        return reply

    def delete(self, name: str) -> bool:
        """Delete the function; False when it was already gone."""
        try:
            self.call("DeleteFunction", {"FunctionName": name})
        except Permanent as error:
            if error.reason == "ResourceNotFoundException":
                return False
            raise
        return True


@dataclass
class _Entry:
    """A session and its clients for one provider's credentials."""

    target: Target
    session: boto3.Session
    clients: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class _Making:
    """The making of one key's entry, which the calls that arrive meanwhile wait for."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    failure: BaseException | None = None


class Connector:
    """Hands out clients, cached per provider credentials, safe to share between threads.

    The caller names the credentials with a key that changes whenever they may change (the
    provider's UID and generation, and the version of its Secret) and gives a function that
    makes the Target on a miss: a cached key needs no Secret read and no STS call.
    """

    def __init__(
        self,
        *,
        max_entries: int = 256,
        on_client: Callable[[Any], None] | None = None,
        role_seconds: int = ASSUMED_ROLE_SECONDS,
        read_seconds: float = READ_SECONDS,
    ) -> None:
        # on_client sees every new client: tests and metrics hook botocore's events there.
        self._on_client = on_client
        self._role_seconds = role_seconds
        self._config = client_config(read=read_seconds)
        self._max_entries = max_entries
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._making: dict[Hashable, _Making] = {}
        self._lock = threading.Lock()

    def functions(self, key: Hashable, target: Callable[[], Target]) -> LambdaFunctions:
        return LambdaFunctions(self._client(key, target, "lambda"))

    def caller_identity(self, key: Hashable, target: Callable[[], Target]) -> dict[str, str]:
        client = self._client(key, target, "sts")
        with translated("GetCallerIdentity", "the provider's credentials"):
            reply = client.get_caller_identity()
        return {"account": reply["Account"], "arn": reply["Arn"]}

    def _client(self, key: Hashable, target: Callable[[], Target], service: str) -> Any:
        entry = self._entry(key, target)
        # boto3 sessions are not safe for making clients from several threads at once.
        with entry.lock:
            client = entry.clients.get(service)
            if client is None:
                with translated("Connect", service):
                    client = entry.session.client(
                        service, endpoint_url=entry.target.endpoint, config=self._config
                    )
                if self._on_client:
                    self._on_client(client)
                entry.clients[service] = client
        return client

    def _entry(self, key: Hashable, target: Callable[[], Target]) -> _Entry:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                return entry
            making = self._making.setdefault(key, _Making())

        # One thread per key reads the Secret and assumes the role; the calls that arrive
        # meanwhile wait for its entry instead of each assuming the role again. Other keys
        # are not held up.
        with making.lock:
            with self._lock:
                entry = self._entries.get(key)
            if entry is not None:
                return entry
            if making.failure is not None:
                # The calls that waited share its failure: trying again one after another
                # could take each of them past Metacontroller's webhook timeout.
                raise making.failure
            try:
                made = target()
                with translated("Connect", "AWS"):
                    session = _session(made, self._on_client, self._role_seconds, self._config)
            except BaseException as failure:
                making.failure = failure
                with self._lock:
                    self._making.pop(key, None)
                raise
            with self._lock:
                self._making.pop(key, None)
                entry = self._entries.setdefault(key, _Entry(made, session))
                self._entries.move_to_end(key)
                while len(self._entries) > self._max_entries:
                    self._entries.popitem(last=False)
            return entry


def _session(
    target: Target,
    on_client: Callable[[Any], None] | None,
    role_seconds: int,
    config: Config,
) -> boto3.Session:
    base = boto3.Session(
        aws_access_key_id=target.access_key_id,
        aws_secret_access_key=target.secret_access_key,
        region_name=target.region,
    )
    if not target.role_arn:
        return base
    return _assumed_role_session(base, target, on_client, role_seconds, config)


def _assumed_role_session(
    base: boto3.Session,
    target: Target,
    on_client: Callable[[Any], None] | None,
    role_seconds: int,
    config: Config,
) -> boto3.Session:
    """A session whose credentials come from assuming `target.role_arn`, refreshed in time.

    With a web identity token (IRSA), the role is assumed with it; otherwise with the base
    credentials, which may belong to another account.
    """
    token_file = os.environ.get("AWS_WEB_IDENTITY_TOKEN_FILE")
    signing = Config(signature_version=UNSIGNED) if token_file else Config()
    sts = base.client("sts", endpoint_url=target.endpoint, config=config.merge(signing))
    if on_client:
        on_client(sts)

    def assume() -> dict[str, Any]:
        common = {
            "RoleArn": target.role_arn,
            "RoleSessionName": target.session_name,
            "DurationSeconds": role_seconds,
        }
        with translated("AssumeRole", target.role_arn or ""):
            if token_file:
                with open(token_file, encoding="utf-8") as token:
                    reply = sts.assume_role_with_web_identity(
                        **common, WebIdentityToken=token.read().strip()
                    )
            elif target.external_id:
                reply = sts.assume_role(**common, ExternalId=target.external_id)
            else:
                reply = sts.assume_role(**common)
        log.info("assumed role %s as session %s", target.role_arn, target.session_name)
        credentials = reply["Credentials"]
        return {
            "access_key": credentials["AccessKeyId"],
            "secret_key": credentials["SecretAccessKey"],
            "token": credentials["SessionToken"],
            "expiry_time": credentials["Expiration"].isoformat(),
        }

    first = assume()
    refreshable = RefreshableCredentials(
        access_key=first["access_key"],
        secret_key=first["secret_key"],
        token=first["token"],
        expiry_time=datetime.fromisoformat(first["expiry_time"]),
        refresh_using=assume,
        method="sts-assume-role",
        # Every signed call asks whether the credentials are due for a refresh. botocore's
        # default clock builds the local time zone for each asking, which costs more than
        # the rest of the check; the expiry carries its own zone, so UTC compares the same.
        time_fetcher=_utc_now,
    )
    core = botocore.session.get_session()
    # botocore has no public setter for credentials that refresh themselves.
    core._credentials = refreshable
    core.set_config_variable("region", target.region)
    return boto3.Session(botocore_session=core)


def _utc_now() -> datetime:
    return datetime.now(UTC)
