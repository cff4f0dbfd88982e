"""Which operation reaches which rule, for add-ons, features, settings and files."""
from __future__ import annotations

import ipaddress
from typing import Any

from ..domain.catalog import features, files
from ..domain.core.store import Store
from .binding import Binding, Shapes
from .call import Answer, Call


def feature_list_item(record: dict[str, Any]) -> dict[str, Any]:
    """A feature as ``GET /features`` lists it: no associations, the number of event schemas linked instead."""
    out = {k: v for k, v in record.items() if k != "schemaAssociations"}
    out["schemaCount"] = features.schema_count(record)
    return out


def download_url(store: Store, call: Call) -> str:
    """The mock's own URL of the file the path names, on the host the client called (so the link
    works where the client is), when that host is an address: ``localhost``, an IP literal.

    A name (``Host: evil.example``) could send the client anywhere (an open redirect, a rebinding
    name): then the URL is the path alone, which resolves against the address the client called.
    """
    path = files.download_path(store, call.params["file_id"], call.params.get("expiry"))
    host = call.headers.get("host") or "127.0.0.1"
    return f"http://{host}{path}" if _is_address(host) else path


def _is_address(host: str) -> bool:
    """Whether ``host`` (``name[:port]``) is ``localhost`` or an IP address, with a valid port if any."""
    name, port = host, ""
    if host.startswith("["):  # [v6]:port
        name, _, rest = host[1:].partition("]")
        if rest and not rest.startswith(":"):
            return False
        port = rest[1:]
    elif host.count(":") == 1:
        name, port = host.split(":")
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        return False
    if name.lower() == "localhost":
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def get_file(store: Store, call: Call) -> Answer:
    """``GET /files/{file_id}``: a redirect to the file's download URL."""
    return Answer(None, {"location": download_url(store, call)}, 302)


def get_download_url(store: Store, call: Call) -> dict[str, Any]:
    """``GET /files/{file_id}/download_url``; with ``expiry`` (seconds), a link that ends then."""
    return {"downloadUrl": download_url(store, call)}


FILES = Binding(
    resource=files.NAME,
    path_param="file_id",
    read="getDownloadUrl",  # Togai's API only reads files; the state import and the fixtures add them
    handlers={"getFile": get_file, "getDownloadUrl": get_download_url},
)

SETTINGS = Binding(
    resource="settings",
    path_param="setting_id_str",
    create="insertSetting",
    read="getSetting",
    list="listSetting",
    update="updateSetting",  # Togai has no way to delete a setting
    shapes=Shapes(
        filters={"entity_type": "entityType", "entity_id": "entityId", "setting_id": "id", "namespace": "namespace"},
    ),
)

ADD_ONS = Binding(
    resource="addOns",
    path_param="addon_id",
    create="createAddOn",
    read="getAddOn",
    list="getAddOns",
    update="updateAddOn",
    delete="deleteAddOn",  # archives: AddOn.status has ARCHIVED
)

FEATURES = Binding(
    resource="features",
    path_param="feature_id",
    create="createFeature",
    read="getFeature",
    list="getFeatures",
    update="updateFeature",  # Togai has no way to delete or archive a feature
    shapes=Shapes(
        item=feature_list_item,
    ),
)
