"""/schema works offline: every script, style and icon its pages load is served by promo."""

from __future__ import annotations

import re

import httpx
import pytest

LOADED = re.compile(r"""<(?:script|link)\b[^>]*?(?:src|href)=['"]([^'"]+)['"]""")


@pytest.mark.parametrize("page", ["/schema", "/schema/swagger"])
async def test_the_api_explorer_loads_nothing_from_elsewhere(
    client: httpx.AsyncClient, page: str
) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    assert "SwaggerUIBundle" in response.text
    loaded = LOADED.findall(response.text)
    assert len(loaded) == 4, loaded  # icon, stylesheet, the bundle and its preset
    for url in loaded:
        assert url.startswith("/schema/assets/"), f"{url} is not served by promo"
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 500, url
