"""LangSmith's cloud regions and their API hosts (reference langsmith-v2.md §7, langsmith-api.md §1).

An organisation lives in one region, and its keys work only there: the same key against another
region's host gets a bare ``403 {"error":"Forbidden"}`` (langsmith-sdk#2112), which reads like a
permission problem. ``purgebot doctor`` names the region of an endpoint and, on that 403, the other
hosts to try. A self-hosted endpoint (``https://<host>/api/v1``) is in no region.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

__all__ = ["REGIONS", "Region", "other_regions", "region_of"]


@dataclass(frozen=True)
class Region:
    name: str
    endpoint: str

    @property
    def host(self) -> str:
        return httpx.URL(self.endpoint).host


REGIONS: tuple[Region, ...] = (
    Region("US", "https://api.smith.langchain.com"),
    Region("EU", "https://eu.api.smith.langchain.com"),
    Region("APAC", "https://apac.api.smith.langchain.com"),
    Region("AWS US", "https://aws.api.smith.langchain.com"),
)


def region_of(endpoint: str) -> Region | None:
    """The cloud region whose API host ``endpoint`` names, or None (self-hosted, a proxy, the sandbox)."""
    host = httpx.URL(endpoint.strip()).host.lower()
    return next((region for region in REGIONS if region.host == host), None)


def other_regions(endpoint: str) -> tuple[Region, ...]:
    """Every cloud region but the one ``endpoint`` is in (all four when it is in none)."""
    here = region_of(endpoint)
    return tuple(region for region in REGIONS if region != here)
