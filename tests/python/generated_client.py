"""Uses a client generated from the hub's OpenAPI document (openapi-python-client) against a
running hub, as a client author would: python generated_client.py PACKAGE_DIR HUB_URL TOKEN.

Calls the health route without a token and the catalog with one, through the generated
functions, and prints what they answered as JSON.
"""

import importlib
import json
import pathlib
import sys


def operation(package, name):
    """The generated module of operation `name`, under package.api.<tag>."""
    root = pathlib.Path(package.__file__).parent / "api"
    for path in root.glob(f"*/{name}.py"):
        return importlib.import_module(f"{package.__name__}.api.{path.parent.name}.{name}")
    raise SystemExit(f"the generated client has no operation {name}")


def main():
    package_dir, url, token = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    sys.path.insert(0, str(package_dir.parent))
    package = importlib.import_module(package_dir.name)
    anonymous = package.Client(base_url=url)
    health = operation(package, "health").sync_detailed(client=anonymous)
    signed_in = package.AuthenticatedClient(base_url=url, token=token)
    catalog = operation(package, "catalog").sync_detailed(client=signed_in)
    refused = operation(package, "catalog").sync_detailed(client=anonymous)
    print(
        json.dumps(
            {
                "health": health.status_code.value,
                "catalog": catalog.status_code.value,
                "departments": json.loads(catalog.content)["departments"],
                "catalog_without_token": refused.status_code.value,
            }
        )
    )


main()
