"""What an import is asked to do, checked before its file arrives."""

import pytest

from crm_customer.domain.imports import ImportSpec, Mode
from crm_platform.errors import InvalidArgument


def spec(**given: object) -> ImportSpec:
    asked = {
        "entity": "contacts",
        "mode": "",
        "default_region": "cn",
        "dry_run": False,
        "mapping": {},
        "file_name": "contacts.csv",
        **given,
    }
    return ImportSpec.parse(**asked)  # type: ignore[arg-type]


def test_defaults() -> None:
    parsed = spec(file_name="")
    assert (parsed.mode, parsed.default_region, parsed.file_name) == (Mode.CREATE, "CN", "upload")


def test_control_characters_in_the_file_name_are_dropped() -> None:
    # A NUL cannot be stored by PostgreSQL; the name is only a label.
    assert spec(file_name="kun\x00den\n 2026\u3000.csv").file_name == "kunden 2026\u3000.csv"
    assert spec(file_name="report\u202egpj.exe").file_name == "reportgpj.exe"  # shown reversed


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"entity": "leads"}, "entity"),
        ({"mode": "replace"}, "mode"),
        ({"mapping": {"Na\x00me": "name"}}, "mapping"),
        ({"mapping": {"Name": "na\x00me"}}, "mapping"),
        ({"file_name": "x" * 256}, "file_name"),
    ],
)
def test_bad_specs_are_refused_naming_the_field(given: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        spec(**given)
    assert [v.field for v in refused.value.violations] == [field]
