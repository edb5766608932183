"""Connections to the metadata index: a ``postgresql://`` URL, or an Aurora DSQL cluster hostname.

For a DSQL hostname every new connection gets a fresh IAM auth token as its password (user ``admin``,
database ``postgres``, TLS required), and idle connections are retired well before DSQL's 60-minute
connection limit.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import asyncpg

from behaviour_profiles.storage import index_errors, setup_schema
from copilot.settings import Settings

DSQL_MAX_INACTIVE_S = 300.0
CONNECTION_MAX_AGE_S = 45 * 60.0
"""Every connection is replaced within this age plus one transaction: well inside DSQL's 60 minutes."""
CONNECT_TIMEOUT_S = 5.0
COMMAND_TIMEOUT_S = 15.0


def dsql_region(hostname: str, fallback: str) -> str:
    """``<id>.dsql.<region>.on.aws`` -> ``<region>``."""
    parts = hostname.split(".")
    if len(parts) >= 5 and parts[1].startswith("dsql"):
        return parts[2]
    return fallback


def dsql_token(hostname: str, region: str) -> str:
    """An IAM auth token for the ``admin`` role (boto3's DSQL token generator; no network call)."""
    import boto3

    client = boto3.client("dsql", region_name=region)
    token: str = client.generate_db_connect_admin_auth_token(hostname, region)
    return token


def connect_kwargs(settings: Settings) -> dict[str, Any]:
    endpoint = settings.copilot_dsql_endpoint
    assert endpoint
    if settings.dsql_is_cluster_host:
        region = dsql_region(endpoint, settings.region)

        async def password() -> str:
            return await asyncio.to_thread(dsql_token, endpoint, region)

        return {
            "host": endpoint,
            "port": 5432,
            "user": "admin",
            "database": "postgres",
            "password": password,
            # verify the server's certificate and name, not just encrypt ("require" would not verify)
            "ssl": ssl.create_default_context(),
        }
    return {"dsn": endpoint}


async def open_index_pool(settings: Settings) -> asyncpg.Pool:
    """A lazy pool: it connects on first use, so the API starts even while the index is down."""
    pool = asyncpg.create_pool(
        **connect_kwargs(settings),
        min_size=0,
        max_size=settings.copilot_dsql_pool_max_size,
        timeout=CONNECT_TIMEOUT_S,
        command_timeout=COMMAND_TIMEOUT_S,
        max_inactive_connection_lifetime=DSQL_MAX_INACTIVE_S,
    )
    async with index_errors("opening the connection pool"):
        await pool
    return pool


async def recycle_connections(pool: asyncpg.Pool, every_s: float = CONNECTION_MAX_AGE_S) -> None:
    """Expire the pool's connections periodically; each is replaced on its next acquire (with a fresh token)."""
    while True:
        await asyncio.sleep(every_s)
        await pool.expire_connections()


async def apply_schema(settings: Settings) -> list[str]:
    """``copilot dev schema setup``: create tables and indexes idempotently."""
    async with index_errors("connecting for schema setup"):
        conn = await asyncpg.connect(**connect_kwargs(settings), timeout=CONNECT_TIMEOUT_S)
    try:
        return await setup_schema(conn, dsql=settings.dsql_is_cluster_host)
    finally:
        await conn.close()
