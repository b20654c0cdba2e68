"""Print the server's OpenAPI document: ``python -m amplio.server.openapi > web/openapi.json``.

The web UI's TypeScript types are generated from it (``web/gen_types.sh``), and
``web/check_build.py`` fails when the committed copy no longer matches the server.
"""

from __future__ import annotations

import json
from typing import Any, cast


def openapi_schema() -> dict[str, Any]:
    """The API's OpenAPI document. The routes, not a workspace, make it: none is opened."""
    from amplio.server.app import create_app
    from amplio.workspace.workspace import Workspace

    return create_app(cast(Workspace, None)).openapi()


def main() -> None:
    print(json.dumps(openapi_schema(), indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
