"""Reading an export file: a ZIP of one UTF-8 CSV; anything else is a service error."""

from __future__ import annotations

import io
import zipfile

import pytest

from intune_step.errors import ServiceError
from intune_step.graph.reports import app_filter, first_row, read_export


def archive(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as handle:
        for name, data in files.items():
            handle.writestr(name, data)
    return buffer.getvalue()


CSV = ("\ufeffDeviceName,UserPrincipalName,Platform,AppVersion,AppInstallState,"
       "AppInstallState_loc,HexErrorCode\r\n"
       "ipad-1,ada@contoso.com,iOS,2.4.1 (241),1,Installed,0x0\r\n"
       '"pc, two",bob@contoso.com,Windows,,2,Failed,0x87D13B9F\r\n')


def test_rows_of_a_zipped_csv() -> None:
    rows = read_export(archive({"DeviceInstallStatusByApp_x.csv": CSV}))
    assert [r.device for r in rows] == ["ipad-1", "pc, two"]
    assert rows[0].version == "2.4.1 (241)" and rows[0].state == "1"
    assert rows[0].state_text == "Installed"
    assert rows[1].error_code == "0x87D13B9F" and rows[1].version == ""


@pytest.mark.parametrize("data", [
    b"DeviceName\r\nx\r\n",  # a bare CSV, not zipped
    archive({"a.csv": CSV, "b.csv": CSV}),
    archive({"report.json": "[]"}),
    archive({"a.csv": b"\xff\xfeD\x00"}),
])
def test_anything_else_is_refused(data: bytes) -> None:
    with pytest.raises(ServiceError):
        read_export(data)


def test_the_filter_and_a_report_table() -> None:
    assert app_filter("abc") == "(ApplicationId eq 'abc')"
    table = {"Schema": [{"Column": "InstalledDeviceCount"}, {"Column": "FailedDeviceCount"}],
             "Values": [[3, 1]]}
    assert first_row(table) == {"InstalledDeviceCount": 3, "FailedDeviceCount": 1}
    assert first_row({"Schema": [], "Values": []}) is None
